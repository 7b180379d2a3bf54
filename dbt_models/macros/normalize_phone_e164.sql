{#- A phone number in E.164 form (`+<country code><number>`), or null when the value is not a plausible number.

    Accepted input: digits with spaces, dashes, slashes, dots and parentheses, in one of three forms:
      +43 1 234567      international with '+'            -> kept
      0043 1 234567     international with '00'           -> '+' instead of '00'
      0171 2345678      national with trunk prefix '0'    -> default country code instead of the '0'
    The German habit "+49 (0)171 ..." is handled by dropping the "(0)". Bare digits without '+', '00' or '0'
    are ambiguous (a lost '+' or a lost trunk '0') and become null, as does anything with letters or a
    result outside E.164's 7 to 15 digits. -#}

{% macro normalize_phone_e164(phone, default_country_code=none) -%}
    {{ return(adapter.dispatch('normalize_phone_e164', 'cx_pipeline')(phone, default_country_code)) }}
{%- endmacro %}

{% macro default__normalize_phone_e164(phone, default_country_code) -%}
    {%- set country_code = default_country_code or var('default_phone_country_code') -%}
    {%- set dialable = cx_pipeline.regexp_replace_all("replace(" ~ phone ~ ", '(0)', '')", '[^0-9+]', '') -%}
    {%- set candidate -%}
        case
            when {{ dialable }} like '+%' then {{ dialable }}
            when {{ dialable }} like '00%' then '+' || substr({{ dialable }}, 3)
            when {{ dialable }} like '0%' then '+{{ country_code }}' || substr({{ dialable }}, 2)
        end
    {%- endset -%}
    case
        when {{ cx_pipeline.regexp_full_match(phone, '[0-9 +()/.-]+') }}
            and {{ cx_pipeline.regexp_full_match(candidate, '[+][1-9][0-9]{6,14}') }}
        then {{ candidate }}
    end
{%- endmacro %}

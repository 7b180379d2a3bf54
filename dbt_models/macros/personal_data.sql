{#- The keyed pseudonym (HMAC-SHA-256, hex) of a text: the same value as cx_core/privacy/pseudonym.py computes,
    so `'email:' || email` gives the e-mail's entry on the erasure suppression list. An unkeyed md5 or SHA of an
    e-mail is reversed by hashing a list of addresses; without the key this is not.

    The function cx_pseudonym holds the key in Python, out of compiled SQL and logs: on DuckDB from the dbt-duckdb
    plugin cx_core.privacy.dbt_plugin (profiles.yml), on Spark from cx_core.spark_dbt (registered in the session
    before `cx-dbt` starts dbt). Another engine has no keyed hash that would keep the key out of the SQL text, so
    there the pseudonym columns stay empty rather than reversible. -#}

{% macro pseudonymise(text) -%}
    {{ return(adapter.dispatch('pseudonymise', 'cx_pipeline')(text)) }}
{%- endmacro %}

{% macro default__pseudonymise(text) -%}
    cast(null as {{ dbt.type_string() }})
{%- endmacro %}

{% macro duckdb__pseudonymise(text) -%}
    cx_pseudonym({{ text }})
{%- endmacro %}

{% macro spark__pseudonymise(text) -%}
    cx_pseudonym({{ text }})
{%- endmacro %}

{#- Free text with e-mails, phones, IBANs, card numbers, addresses and person names replaced by placeholders
    ([EMAIL], [NAME], ...; ml/redaction.py), by the same Python function on every engine: DuckDB gets cx_redact
    from the plugin cx_core.privacy.dbt_plugin, Spark from cx_core.spark_dbt (registered in the session before
    `cx-dbt` starts dbt). An engine without it fails the build instead of letting the text through. -#}

{% macro redact_text(text) -%}
    cx_redact({{ text }})
{%- endmacro %}

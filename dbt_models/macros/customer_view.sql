{#- Shared rules of the customer-view models (intermediate and core marts). -#}

{#- Identifiers typed by hand (CRM ids, loyalty card numbers, cookies) as graph nodes: surrounding spaces dropped,
    loyalty numbers upper-cased (cards are printed in capitals, people type them in any case), empty is null.
    E-mails, phones and handles are already normalised in staging. -#}
{% macro normalize_plain_id(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}

{% macro normalize_loyalty_id(column) -%}
    nullif(upper(trim({{ column }})), '')
{%- endmacro %}

{#- The channel of a call: an inbound call that the phone menu settled without an agent is IVR self-service. -#}
{% macro call_channel() -%}
    case when direction = 'inbound' and not abandoned and not ({{ call_answered() }}) then 'ivr' else 'phone' end
{%- endmacro %}

{#- A call a person answered: not abandoned, with an agent or with talk time (many exports carry no agent name;
    an answered call without one is still answered). The rest of the calls that were not abandoned ended in the IVR. -#}
{% macro call_answered() -%}
    (not abandoned and (agent_id is not null or coalesce(talk_seconds, 0) > 0))
{%- endmacro %}

{#- A help desk response channel as a channel_taxonomy value (the help desk answers chats with an agent). -#}
{% macro service_channel(column) -%}
    case {{ column }} when 'chat' then 'chat_agent' else {{ column }} end
{%- endmacro %}

{#- In an incremental run, a WHERE clause keeping the rows ingested after the latest row of `source_name` already
    in the model's table (the watermark is per source: sources are ingested at different times). -#}
{% macro newly_ingested(source_name) -%}
    {%- if is_incremental() %}
    where _ingested_at > (
        select coalesce(max(_ingested_at), cast('1900-01-01' as timestamp))
        from {{ this }}
        where source = '{{ source_name }}'
    )
    {%- endif %}
{%- endmacro %}

{#- In an incremental run, the identifiers (identifier_type, identifier_value) whose row in int_identity_components
    changed after the latest change the model's table has seen (its `_identity_changed_at`): the records that
    carry one of them must be resolved again (a login linked their cookie to a customer, two customers merged). -#}
{% macro identifiers_changed_since_last_run() -%}
    select identifier_type, identifier_value
    from {{ ref('int_identity_components') }}
    where changed_at > (
        select coalesce(max(_identity_changed_at), cast('1900-01-01' as timestamp)) from {{ this }}
    )
{%- endmacro %}

{#- An incremental model's delete+insert deletes only the keys its run writes: a key that has nothing left (an
    identifier no longer observed, a customer without journeys) is written as a tombstone row, null in
    `column`, which this post-hook then deletes (DuckDB only: elsewhere the models are rebuilt as tables). -#}
{% macro delete_tombstones(column) -%}
    {%- if target.type == 'duckdb' -%}
    delete from {{ this }} where {{ column }} is null
    {%- endif -%}
{%- endmacro %}

{#- Whether the model's own table has `column` (a table built by an earlier release may lack a newer stamp). -#}
{% macro this_has_column(column) -%}
    {%- do return(column in (adapter.get_columns_in_relation(this) | map(attribute='name'))) -%}
{%- endmacro %}

{#- In an incremental run, the latest value of the stamp `column` in the model's own table (1900 when it has none):
    the watermark after which the rows of the tables it reads are new to it. A table from before the stamp existed
    gets the column only after the model's query (on_schema_change), so then every stamped row is new (naming the
    missing column would bind it to the model's own rows). -#}
{% macro latest_in_this(column) -%}
    {%- if this_has_column(column) -%}
    (select coalesce(max(latest.{{ column }}), cast('1900-01-01' as timestamp)) from {{ this }} as latest)
    {%- else -%}
    cast('1900-01-01' as timestamp)
    {%- endif -%}
{%- endmacro %}

{#- In an incremental run, the customers whose touchpoints (of `sources`, default all) int_touchpoints_resolved
    rewrote after `watermark` (new, corrected, re-attributed or stamped by retention): the customer each belongs to
    now and the one it belonged to before (a re-attributed order leaves its old customer's results too). Exact
    only while previous_owners_known_since holds. -#}
{% macro owners_of_touchpoints_rewritten_since(watermark, sources=none) -%}
    {%- for owner in ['customer_key', '_previous_customer_key'] %}
    select {{ owner }} as customer_key
    from {{ ref('int_touchpoints_resolved') }}
    where _resolved_at > {{ watermark }} and {{ owner }} is not null{{ of_sources(sources) }}
    {%- if not loop.last %}
    union{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- In an incremental run, the touchpoints (of `sources`, default all) int_touchpoints_resolved rewrote after
    `watermark`. -#}
{% macro touchpoints_rewritten_since(watermark, sources=none) -%}
    select touchpoint_id
    from {{ ref('int_touchpoints_resolved') }}
    where _resolved_at > {{ watermark }}{{ of_sources(sources) }}
{%- endmacro %}

{#- ` and source in (...)` for a list of sources; nothing for none (every source). -#}
{% macro of_sources(sources) -%}
    {%- if sources is not none %} and source in ('{{ sources | join("', '") }}'){% endif -%}
{%- endmacro %}

{#- Whether the previous customers above are the ones the model saw at `watermark`: no touchpoint from `sources` was
    rewritten twice since (the version in between, and its customer, is gone: the model missed a run, e.g. a failed
    test upstream skipped it). When not, the model rewrites every customer. Asked of the database when dbt runs. -#}
{% macro previous_owners_known_since(watermark, sources=none) -%}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set rewritten_twice = run_query(
        "select count(*) from " ~ ref('int_touchpoints_resolved') ~ " where _resolved_at > " ~ watermark
        ~ " and _previous_resolved_at > " ~ watermark ~ of_sources(sources)) -%}
    {{ return(rewritten_twice.columns[0].values()[0] == 0) }}
{%- endmacro %}

{#- In an incremental run, the condition on the model's own rows of the customers `customers` (a relation with
    customer_key) whose `key` is not in `rewritten` (the rows the run writes anew): the customer filter scans one
    column and the rowids fetch the rest of the few rows it finds; filtering the upstream table by customer read
    every column of its 9 million rows (issue 19; rowid: the model's own table is always a table). -#}
{% macro own_rows_of_customers(customers, key, rewritten) -%}
    rowid in (
        select rowid from {{ this }}
        where customer_key in (select customer_key from {{ customers }})
    )
    and {{ key }} not in (select {{ key }} from {{ rewritten }})
{%- endmacro %}

{#- After an incremental model's delete+insert: delete the rows whose `column` value no longer occurs in `parent`
    (a customer left without any journey step), which no delete+insert key names (DuckDB only, as above). -#}
{% macro delete_rows_without_parent(column, parent) -%}
    {%- if target.type == 'duckdb' -%}
    {#- distinct: NOT IN over the parent's 7 million rows hashed every one of them, 10 times slower (issue 19) #}
    delete from {{ this }}
    where {{ column }} not in (select distinct {{ column }} from {{ parent }} where {{ column }} is not null)
    {%- endif -%}
{%- endmacro %}

{#- The latest change of the identity graph, stored with every row a run writes (see above). -#}
{% macro latest_identity_change() -%}
    (select max(changed_at) from {{ ref('int_identity_components') }})
{%- endmacro %}

{#- When this dbt invocation started (UTC), the stamp an incremental model writes on the rows it rewrites so that
    the models built on it can select what changed since they last ran (`changed_at`, `_resolved_at`). -#}
{% macro this_run_started_at() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{#- The customer of a record from the int_identity_components rows joined for its identifiers (table aliases,
    most specific first): the first usable identifier's customer, else the first blocked one's (which then
    stands for itself). -#}
{% macro customer_key_by_priority(component_aliases) -%}
    coalesce(
        {%- for alias in component_aliases %}
        case when not {{ alias }}.is_blocked then {{ alias }}.customer_key end,
        {%- endfor %}
        {%- for alias in component_aliases %}
        {{ alias }}.customer_key{% if not loop.last %},{% endif %}
        {%- endfor %}
    )
{%- endmacro %}

{#- The identifier columns every source contributes to the identity graph and to int_touchpoints_unioned, in
    one order: the given expression per identifier type, null for the types a source does not carry. -#}
{% macro identifier_columns(crm_id=none, email=none, phone=none, loyalty_id=none, social_handle=none,
                            anonymous_id=none) -%}
    {%- set expressions = {'crm_id': crm_id, 'email': email, 'phone': phone, 'loyalty_id': loyalty_id,
                           'social_handle': social_handle, 'anonymous_id': anonymous_id} -%}
    {%- for identifier_type, expression in expressions.items() %}
    {{ expression or 'cast(null as ' ~ dbt.type_string() ~ ')' }} as {{ identifier_type }}{% if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}

{#- The six identifier columns of identifier_columns() as graph nodes: hand-typed ids normalised (e-mails,
    phones and handles already are, in staging). -#}
{% macro normalized_identifier_columns() -%}
    {{ normalize_plain_id('crm_id') }} as crm_id,
    email,
    phone,
    {{ normalize_loyalty_id('loyalty_id') }} as loyalty_id,
    social_handle,
    {{ normalize_plain_id('anonymous_id') }} as anonymous_id
{%- endmacro %}

-- Every case update the CRM exported, with whether it names a case of fct_cx_cases and whether it is the one
-- that sets the case's status now. An update of an unknown case (a typo, a case from another system, a case
-- whose situation was erased) is kept and reported here, never dropped.
with

updates as (
    select case_id, status, updated_at, update_recency
    from {{ ref('stg_case_updates__updates') }}
),

cases as (
    select case_id from {{ ref('fct_cx_cases') }}
)

select
    updates.case_id,
    updates.status,
    updates.updated_at,
    cases.case_id is not null as is_known_case,
    updates.update_recency = 1 as is_latest
from updates
left join cases
    on cases.case_id = updates.case_id

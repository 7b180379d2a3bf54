-- The case lists the CRM works, as a team filters the cases export (cases_<date>.csv) by case type and owner
-- team: per list its open cases and those of them past their due time, at fct_cx_cases.status_as_of. Counts
-- only, so the reports can name the lists a finding leads to without reading fct_cx_cases (CRM ids).
with

routing as (
    select case_type, case_label, owner_team from {{ ref('case_routing') }}
),

cases as (
    select * from {{ ref('fct_cx_cases') }}
),

open_cases as (
    select
        case_type,
        owner_team,
        count(*) as open_cases,
        -- count, not sum: a whole number on every engine
        count(case when is_overdue then 1 end) as overdue_cases
    from cases
    where status = 'open'
    group by case_type, owner_team
),

status_as_of as (
    select max(status_as_of) as status_as_of from cases
)

-- every routed list, also one without open cases: "0 open" is a finding too
select
    routing.case_type,
    routing.case_label,
    routing.owner_team,
    coalesce(open_cases.open_cases, 0) as open_cases,
    coalesce(open_cases.overdue_cases, 0) as overdue_cases,
    status_as_of.status_as_of
from routing
left join open_cases
    on open_cases.case_type = routing.case_type
    and open_cases.owner_team = routing.owner_team
cross join status_as_of

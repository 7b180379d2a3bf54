-- The identity graph's edges: two identifiers seen on one record, neither of them blocked. Both directions
-- are listed, so label propagation only has to follow `identifier_from -> identifier_to`.
with

usable_observations as (
    select record_ref, identifier
    from {{ ref('int_identity_observations') }}
    where identifier not in (select identifier from {{ ref('int_identity_blocked_identifiers') }})
)

select distinct
    from_obs.identifier as identifier_from,
    to_obs.identifier as identifier_to
from usable_observations as from_obs
inner join usable_observations as to_obs
    on to_obs.record_ref = from_obs.record_ref
    and to_obs.identifier <> from_obs.identifier

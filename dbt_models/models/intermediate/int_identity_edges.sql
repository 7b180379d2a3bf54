-- The identity graph's edges: two identifiers seen on one record, neither of them blocked. Both directions
-- are listed, so label propagation only has to follow `identifier_from -> identifier_to`.
with

usable_observations as (
    select record_ref, identifier
    from {{ ref('int_identity_observations') }}
    where identifier not in (select identifier from {{ ref('int_identity_blocked_identifiers') }})
)

{{ identity_edges('usable_observations') }}

-- Every subscription event in the user's order (occurred_at, then event_id), classified:
-- an opt-out (not after another opt-out), an opt-in (not after another opt-in), or redundant.
with ordered as (
    select
        *,
        lag(event_type) over (
            partition by user_id order by occurred_at, event_id
        ) as previous_event_type
    from {{ ref('stg_lake__subscriptions') }}
),

classified as (
    select
        *,
        (event_type = 'opt_out' and coalesce(previous_event_type, 'none') <> 'opt_out') as is_opt_out,
        (event_type = 'opt_in' and coalesce(previous_event_type, 'none') <> 'opt_in') as is_opt_in
    from ordered
)

select
    event_id,
    user_id,
    event_type,
    occurred_at,
    source,
    detected_via,
    campaign_id,
    previous_event_type,
    is_opt_out,
    is_opt_in,
    -- the opt-in that started the period an opt-out ends: the latest opt-in before it
    case
        when is_opt_out then max(case when is_opt_in then occurred_at end) over (
            partition by user_id order by occurred_at, event_id
            rows between unbounded preceding and 1 preceding
        )
    end as opted_in_at
from classified

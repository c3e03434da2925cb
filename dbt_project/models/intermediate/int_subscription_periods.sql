-- Subscription periods: from an opt-in to the opt-out that ends it (null while it lasts).
-- A user is in the opted-in base of day d when a period started before d 00:00 and had
-- not ended before it.
with state_changes as (
    select
        user_id,
        event_id,
        occurred_at,
        is_opt_in,
        lead(occurred_at) over (partition by user_id order by occurred_at, event_id) as next_change_at,
        lead(event_id) over (partition by user_id order by occurred_at, event_id) as next_change_event_id
    from {{ ref('int_subscription_events_sequenced') }}
    where is_opt_in or is_opt_out
)

select
    state_changes.user_id,
    {{ platform_or_unknown('users.platform') }} as platform,
    state_changes.event_id as opt_in_id,
    state_changes.occurred_at as opted_in_at,
    state_changes.next_change_event_id as opt_out_id,
    state_changes.next_change_at as opted_out_at
from state_changes
left join {{ ref('int_users_latest') }} as users
    on state_changes.user_id = users.user_id
where state_changes.is_opt_in

{{ config(materialized='ephemeral') }}
-- The opted-in base of each day the daily marts (re)write: the users in a subscription period
-- at the day's start (opted in before d 00:00, not opted out before it).
select
    days.date,
    periods.user_id,
    periods.platform
from {{ ref('int_subscription_periods') }} as periods
inner join {{ ref('int_mart_days') }} as days
    on
        periods.opted_in_at < {{ day_start('days.date') }}
        and (periods.opted_out_at is null or periods.opted_out_at >= {{ day_start('days.date') }})

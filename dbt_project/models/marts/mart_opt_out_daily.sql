{{ incremental_config('date') }}
-- One row per covered export day and platform: opt-ins, detected and estimated opt-outs,
-- the opted-in base at the day's start and the opt-out rate.

with days as (
    select date from {{ ref('int_mart_days') }}
),

platforms as (
    select platform from {{ ref('platforms') }}
),

opt_ins as (
    select
        cast(events.occurred_at as date) as date,
        {{ platform_or_unknown('users.platform') }} as platform,
        count(*) as opt_ins
    from {{ ref('int_subscription_events_sequenced') }} as events
    left join {{ ref('int_users_latest') }} as users
        on events.user_id = users.user_id
    where events.is_opt_in and events.occurred_at >= {{ day_start(build_horizon('first_mart_day')) }}
    group by cast(events.occurred_at as date), {{ platform_or_unknown('users.platform') }}
),

opt_outs as (
    select
        opt_out_id,
        platform,
        opt_out_date,
        opted_out_at,
        window_start,
        {{ microseconds_between('window_start', 'opted_out_at') }} as window_microseconds
    from {{ ref('fct_opt_outs') }}
    where opt_out_date >= {{ build_horizon('first_mart_day') }}
),

detected as (
    select
        opt_out_date as date,
        platform,
        count(*) as opt_outs_detected
    from opt_outs
    group by opt_out_date, platform
),

spread as (
    -- each opt-out's share of its window [window_start, opted_out_at] falling on the day,
    -- summed as decimals so that the total does not depend on the order of the rows
    select
        days.date,
        opt_outs.platform,
        sum(
            cast(
                case
                    when opt_outs.window_microseconds = 0
                        then case when days.date = opt_outs.opt_out_date then 1.0 else 0.0 end
                    else
                        cast({{ microseconds_between(
                            'greatest(opt_outs.window_start, ' ~ day_start('days.date') ~ ')',
                            'least(opt_outs.opted_out_at, ' ~ days_after(day_start('days.date'), 1) ~ ')'
                        ) }} as {{ type_double() }})
                        / opt_outs.window_microseconds
                end as {{ type_exact_share() }}
            )
        ) as opt_outs_estimated
    from opt_outs
    inner join days
        on
            days.date >= cast(opt_outs.window_start as date)
            and opt_outs.opt_out_date >= days.date
    group by days.date, opt_outs.platform
),

base as (
    select
        date,
        platform,
        count(*) as opted_in_base
    from {{ ref('int_opted_in_base_days') }}
    group by date, platform
)

select
    days.date,
    platforms.platform,
    coalesce(opt_ins.opt_ins, 0) as opt_ins,
    coalesce(detected.opt_outs_detected, 0) as opt_outs_detected,
    cast(coalesce(spread.opt_outs_estimated, 0) as {{ type_double() }}) as opt_outs_estimated,
    coalesce(base.opted_in_base, 0) as opted_in_base,
    {{ opt_out_rate('coalesce(detected.opt_outs_detected, 0)', 'base.opted_in_base') }} as opt_out_rate
from days
cross join platforms
left join opt_ins
    on days.date = opt_ins.date and platforms.platform = opt_ins.platform
left join detected
    on days.date = detected.date and platforms.platform = detected.platform
left join spread
    on days.date = spread.date and platforms.platform = spread.platform
left join base
    on days.date = base.date and platforms.platform = base.platform

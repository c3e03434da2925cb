{{ config(materialized='table') }}
-- Early warning, per covered day and platform: is the day's opt-out count far above what the
-- platform's recent rate predicts for its opted-in base?
--
-- The count tested is the re-spread estimate (opt_outs_estimated), not the detected count:
-- a web-push send that reveals weeks of silent opt-outs (failed sends to dead tokens) puts
-- them all on its own day in the detected count, a spike that is nobody's fault; the
-- estimate spreads each lagged opt-out back over its window, so only opt-outs that happened
-- around the day count. An opt-out seen at once (client, api) counts 1 on its day either way.
{%- set baseline_days = var('alert_baseline_days') %}

with daily as (
    select
        date,
        platform,
        opt_outs_detected,
        cast(opt_outs_estimated as {{ type_double() }}) as opt_outs_estimated,
        opted_in_base
    from {{ ref('mart_opt_out_daily') }}
),

baseline as (
    -- the same platform over the `alert_baseline_days` covered days before the day
    select
        daily.date,
        daily.platform,
        count(earlier.date) as baseline_days,
        -- summed as decimals: the same total whatever the order of the rows
        cast(sum(cast(earlier.opt_outs_estimated as {{ type_exact_share() }})) as {{ type_double() }})
            as baseline_opt_outs,
        sum(earlier.opted_in_base) as baseline_opted_in
    from daily
    left join daily as earlier
        on
            daily.platform = earlier.platform
            and daily.date > earlier.date
            and cast({{ dbt.dateadd('day', -baseline_days, 'daily.date') }} as date) <= earlier.date
    group by daily.date, daily.platform
),

tested as (
    select
        daily.date,
        daily.platform,
        daily.opt_outs_detected,
        daily.opt_outs_estimated,
        daily.opted_in_base,
        baseline.baseline_days,
        case
            when baseline.baseline_days >= {{ var('alert_min_baseline_days') }} and baseline.baseline_opted_in > 0
                then baseline.baseline_opt_outs / baseline.baseline_opted_in
        end as baseline_rate,
        daily.platform || ' ' || cast(daily.date as {{ dbt.type_string() }}) as alert_key
    from daily
    inner join baseline
        on daily.date = baseline.date and daily.platform = baseline.platform
),

counts as (
    select
        alert_key,
        -- a whole number of opt-outs for the test: the estimate rounded down (conservative)
        cast(floor(opt_outs_estimated) as {{ dbt.type_bigint() }}) as observed_count,
        baseline_rate * opted_in_base as expected
    from tested
),

p_values as (
    {{ poisson_p_values('counts', 'alert_key') }}
)

select
    tested.date,
    tested.platform,
    tested.opt_outs_estimated,
    tested.opt_outs_detected,
    tested.opted_in_base,
    tested.baseline_days,
    tested.baseline_rate,
    {{ alert_verdict('tested.opt_outs_estimated', 'counts.expected', 'p_values.p_value') }}
from tested
inner join counts
    on tested.alert_key = counts.alert_key
inner join p_values
    on tested.alert_key = p_values.alert_key

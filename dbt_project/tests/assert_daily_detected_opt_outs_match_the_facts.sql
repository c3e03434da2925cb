-- a check on mart_opt_out_daily in Dagster (it reads the facts too)
{{ config(meta={'dagster': {'ref': {'name': 'mart_opt_out_daily'}}}) }}
-- The daily mart's detected opt-outs are the facts of the covered days, by platform.
with daily as (
    select
        date,
        platform,
        opt_outs_detected
    from {{ ref('mart_opt_out_daily') }}
),

facts as (
    {{ opt_outs_per_day_and_platform() }}
)

select daily.*
from daily
left join facts
    on daily.date = facts.opt_out_date and daily.platform = facts.platform
where daily.opt_outs_detected <> coalesce(facts.opt_outs, 0)

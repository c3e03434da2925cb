-- a check on mart_opt_out_daily in Dagster (it reads the facts too)
{{ config(meta={'dagster': {'ref': {'name': 'mart_opt_out_daily'}}}) }}
-- The daily mart's detected opt-outs are the facts of the covered days, by platform: every
-- row its facts' count, and every fact of a day the mart covers counted in a row of it.
with daily as (
    select
        date,
        platform,
        opt_outs_detected
    from {{ ref('mart_opt_out_daily') }}
),

covered as (
    select
        min(date) as first_day,
        max(date) as last_day
    from daily
),

facts as (
    select per_day.*
    from ({{ opt_outs_per_day_and_platform() }}) as per_day
    inner join covered
        on per_day.opt_out_date between covered.first_day and covered.last_day
)

select
    coalesce(daily.date, facts.opt_out_date) as date,
    coalesce(daily.platform, facts.platform) as platform,
    daily.opt_outs_detected,
    facts.opt_outs as fact_opt_outs
from daily
full outer join facts
    on daily.date = facts.opt_out_date and daily.platform = facts.platform
where coalesce(daily.opt_outs_detected, -1) <> coalesce(facts.opt_outs, 0)

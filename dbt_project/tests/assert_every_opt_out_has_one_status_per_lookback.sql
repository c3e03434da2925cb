-- a check on mart_retain_churn in Dagster (it reads the facts too)
{{ config(meta={'dagster': {'ref': {'name': 'mart_retain_churn'}}}) }}
-- For every lookback, retain + pending + churn counts every opt-out of the day exactly once.
with facts as (
    {{ opt_outs_per_day_and_platform() }}
),

statuses as (
    select
        opt_out_date,
        platform,
        lookback_days,
        sum(opt_outs) as opt_outs
    from {{ ref('mart_retain_churn') }}
    group by opt_out_date, platform, lookback_days
)

select
    statuses.opt_out_date,
    statuses.platform,
    statuses.lookback_days
from statuses
left join facts
    on statuses.opt_out_date = facts.opt_out_date and statuses.platform = facts.platform
where facts.opt_outs is null or facts.opt_outs <> statuses.opt_outs

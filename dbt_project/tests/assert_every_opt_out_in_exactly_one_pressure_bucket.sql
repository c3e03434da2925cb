-- a check on mart_pre_opt_out_pressure in Dagster (it reads the facts too)
{{ config(meta={'dagster': {'ref': {'name': 'mart_pre_opt_out_pressure'}}}) }}
-- Per opt-out day and platform, the pressure buckets count each opt-out once.
with facts as (
    {{ opt_outs_per_day_and_platform() }}
),

buckets as (
    select
        opt_out_date,
        platform,
        sum(opt_outs) as opt_outs
    from {{ ref('mart_pre_opt_out_pressure') }}
    group by opt_out_date, platform
)

select
    coalesce(facts.opt_out_date, buckets.opt_out_date) as opt_out_date,
    coalesce(facts.platform, buckets.platform) as platform,
    facts.opt_outs as fact_opt_outs,
    buckets.opt_outs as bucket_opt_outs
from facts
full outer join buckets
    on facts.opt_out_date = buckets.opt_out_date and facts.platform = buckets.platform
where coalesce(facts.opt_outs, -1) <> coalesce(buckets.opt_outs, -1)

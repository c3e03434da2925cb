-- Per day of the range and platform with an opted-in base: the opt-out rate, and whether
-- the rate chart draws it. A rate on a handful of users says nothing (the `unknown`
-- platform: 2 of 3 users opting out is a 67% rate) and would flatten the lines of the real
-- platforms, so a day's rate is charted only when the platform's opted-in base that day is
-- at least min_opted_in_base users (dbt var rate_min_opted_in_base, dbt_project.yml);
-- rpt_rate_left_out lists what is left out. The report and the dashboards read the flag.
{% set min_opted_in_base = var('rate_min_opted_in_base') %}

select
    daily.date,
    daily.platform,
    daily.opt_out_rate,
    daily.opt_outs_detected,
    daily.opted_in_base,
    cast({{ min_opted_in_base }} as {{ dbt.type_bigint() }}) as min_opted_in_base,
    daily.opted_in_base >= {{ min_opted_in_base }} as is_charted
from {{ ref('mart_opt_out_daily') }} as daily
{{ in_report_range('daily.date') }}
where daily.opt_out_rate is not null

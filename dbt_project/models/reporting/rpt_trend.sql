-- Per day of the range, all platforms: detected and estimated (re-spread) opt-outs, the
-- opted-in base and the opt-out rate.
select
    daily.date,
    cast(sum(daily.opt_outs_detected) as {{ dbt.type_bigint() }}) as opt_outs_detected,
    sum(daily.opt_outs_estimated) as opt_outs_estimated,
    cast(sum(daily.opted_in_base) as {{ dbt.type_bigint() }}) as opted_in_base,
    {{ opt_out_rate('sum(daily.opt_outs_detected)', 'sum(daily.opted_in_base)') }} as opt_out_rate
from {{ ref('mart_opt_out_daily') }} as daily
{{ in_report_range('daily.date') }}
group by daily.date

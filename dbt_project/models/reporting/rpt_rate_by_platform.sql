-- Per day of the range and platform with an opted-in base: the opt-out rate.
select
    daily.date,
    daily.platform,
    daily.opt_out_rate
from {{ ref('mart_opt_out_daily') }} as daily
{{ in_report_range('daily.date') }}
where daily.opt_out_rate is not null

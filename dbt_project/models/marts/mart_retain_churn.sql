{{ incremental_config('opt_out_date') }}
-- Retain / pending / churn per opt-out day, platform and lookback.

select
    opt_out_date,
    platform,
    lookback_days,
    status,
    count(*) as opt_outs,
    count(distinct user_id) as users
from {{ ref('int_opt_out_activity') }}
where
    opt_out_date >= {{ build_horizon('rebuild_from') }}
    and lookback_days in ({{ var('last_events_lookbacks') | join(', ') }})
group by opt_out_date, platform, lookback_days, status

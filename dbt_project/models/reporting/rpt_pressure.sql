-- Per pressure bucket over the range: opt-outs and the opted-in user-days of users who
-- stayed, each as a share of its group, and the daily risk (opt-outs per opted-in user-day).
with counted as (
    -- the range's opt-outs and opted-in user-days, each bucket from either side
    select
        pressure.bucket,
        pressure.bucket_order,
        pressure.opt_outs,
        0 as opted_in_users
    from {{ ref('mart_pre_opt_out_pressure') }} as pressure
    {{ in_report_range('pressure.opt_out_date') }}
    union all
    select
        baseline.bucket,
        baseline.bucket_order,
        0 as opt_outs,
        baseline.opted_in_users
    from {{ ref('mart_pressure_baseline') }} as baseline
    {{ in_report_range('baseline.date') }}
),

buckets as (
    select
        bucket,
        bucket_order,
        cast(sum(opt_outs) as {{ dbt.type_bigint() }}) as opt_outs,
        cast(sum(opted_in_users) as {{ dbt.type_bigint() }}) as opted_in_users
    from counted
    group by bucket, bucket_order
)

select
    bucket,
    bucket_order,
    opt_outs,
    opted_in_users,
    coalesce({{ share_of('opt_outs', 'sum(opt_outs) over ()') }}, 0) as opt_out_share,
    coalesce({{ share_of('opted_in_users', 'sum(opted_in_users) over ()') }}, 0) as stayer_share,
    {{ opt_out_rate('opt_outs', 'opted_in_users') }} as daily_risk
from buckets

{{ incremental_config('opt_out_date') }}
-- "Push messages received before opt-out": opt-outs per day, platform and pressure bucket.

select
    opt_out_date,
    platform,
    {{ pressure_bucket('pushes_received') }} as bucket,
    {{ pressure_bucket_order('pushes_received') }} as bucket_order,
    count(*) as opt_outs
from {{ ref('fct_opt_outs') }}
where opt_out_date >= {{ build_horizon('rebuild_from') }}
group by
    opt_out_date,
    platform,
    {{ pressure_bucket('pushes_received') }},
    {{ pressure_bucket_order('pushes_received') }}

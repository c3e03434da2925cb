{{ incremental_config('opt_out_date') }}
-- "Push messages received before opt-out": opt-outs per day, platform and pressure bucket.

with opt_outs as (
    select
        opt_out_date,
        platform,
        pushes_received
    from {{ ref('fct_opt_outs') }}
    where opt_out_date >= {{ build_horizon('rebuild_from') }}
)

{{ count_by_pressure_bucket('opt_outs', 'opt_out_date', 'pushes_received', 'opt_outs') }}

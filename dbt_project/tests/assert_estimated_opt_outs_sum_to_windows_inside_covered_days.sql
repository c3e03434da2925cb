-- a check on mart_opt_out_daily in Dagster (it reads the facts too)
{{ config(meta={'dagster': {'ref': {'name': 'mart_opt_out_daily'}}}) }}
-- The spread of every opt-out whose window lies inside the covered days adds up to 1 each.
with covered as (
    select
        first_export_date,
        last_export_date
    from {{ ref('int_export_days_covered') }}
),

inside as (
    select count(*) as opt_outs
    from {{ ref('fct_opt_outs') }} as opt_outs
    cross join covered
    where
        cast(opt_outs.window_start as date) >= covered.first_export_date
        and opt_outs.opt_out_date <= covered.last_export_date
),

straddling as (
    select opt_outs.opt_out_id
    from {{ ref('fct_opt_outs') }} as opt_outs
    cross join covered
    where
        cast(opt_outs.window_start as date) < covered.first_export_date
        or opt_outs.opt_out_date > covered.last_export_date
),

estimated as (
    select sum(opt_outs_estimated) as opt_outs
    from {{ ref('mart_opt_out_daily') }}
)

select
    inside.opt_outs as inside_opt_outs,
    estimated.opt_outs as estimated_opt_outs
from inside
cross join estimated
where
    -- with no window reaching outside, the spread is exact; otherwise it can only be more
    -- than the inside opt-outs (the inside part of straddling windows) and at most all of them
    (
        (select count(*) from straddling) = 0
        and abs(estimated.opt_outs - inside.opt_outs) > 1e-6
    )
    or estimated.opt_outs < inside.opt_outs - 1e-6
    or estimated.opt_outs > inside.opt_outs + (select count(*) from straddling) + 1e-6

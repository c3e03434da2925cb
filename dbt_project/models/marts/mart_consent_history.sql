-- The consent ledger (GDPR Art. 7(1): consent given, and withdrawn, shown record by record):
-- one row per subscription period of a user, each side with the lake record it rests on
-- (docs/metrics.md, marts.mart_consent_history). An opt-out that is the user's first event
-- ends a period whose opt-in the records do not hold: its row has no opt-in side.
-- Rebuilt whole: a period that began long ago can end in any build.

with periods as (
    select
        user_id,
        opt_in_id,
        opted_in_at,
        opt_out_id
    from {{ ref('int_subscription_periods') }}
),

opt_outs as (
    select
        opt_out_id,
        user_id,
        opted_out_at,
        source,
        detected_via,
        window_start,
        revealing_campaign_id
    from {{ ref('int_opt_outs_windowed') }}
),

-- every period, closed or open, and every opt-out that closes none (the user's first event)
ledger as (
    select
        coalesce(periods.user_id, opt_outs.user_id) as user_id,
        periods.opt_in_id,
        periods.opted_in_at,
        opt_outs.opt_out_id,
        opt_outs.opted_out_at,
        opt_outs.source,
        opt_outs.detected_via,
        opt_outs.window_start,
        opt_outs.revealing_campaign_id
    from periods
    full outer join opt_outs
        on periods.opt_out_id = opt_outs.opt_out_id
),

-- where each kept subscription event came from (its first delivery: staging)
records as (
    select
        event_id,
        source_file,
        export_date,
        record_number
    from {{ ref('stg_lake__subscriptions') }}
),

ingestions as (
    select
        export_date,
        ingested_at
    from {{ ref('stg_lake__ingestion_log') }}
    where table_name = 'subscriptions'
)

select
    ledger.user_id,
    users.external_id,
    {{ platform_or_unknown('users.platform') }} as platform,
    ledger.opt_in_id,
    ledger.opted_in_at,
    opt_in_records.source_file as opt_in_source_file,
    opt_in_records.export_date as opt_in_export_date,
    opt_in_records.record_number as opt_in_record_number,
    opt_in_ingestions.ingested_at as opt_in_ingested_at,
    ledger.opt_out_id,
    ledger.opted_out_at,
    ledger.source,
    ledger.detected_via,
    ledger.window_start,
    ledger.opted_out_at as window_end,
    ledger.revealing_campaign_id,
    opt_out_records.source_file as opt_out_source_file,
    opt_out_records.export_date as opt_out_export_date,
    opt_out_records.record_number as opt_out_record_number,
    opt_out_ingestions.ingested_at as opt_out_ingested_at
from ledger
left join {{ ref('int_users_latest') }} as users
    on ledger.user_id = users.user_id
left join records as opt_in_records
    on ledger.opt_in_id = opt_in_records.event_id
left join ingestions as opt_in_ingestions
    on opt_in_records.export_date = opt_in_ingestions.export_date
left join records as opt_out_records
    on ledger.opt_out_id = opt_out_records.event_id
left join ingestions as opt_out_ingestions
    on opt_out_records.export_date = opt_out_ingestions.export_date

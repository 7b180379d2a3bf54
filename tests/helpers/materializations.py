"""The materialisation of one asset in an in-process run, found by its key (a multi-asset's node yields several)."""

import dagster as dg


def materialization_of(result: dg.ExecuteInProcessResult, asset: str) -> dg.AssetMaterialization:
    [materialization] = [event.materialization for event in result.get_asset_materialization_events()
                         if event.asset_key == dg.AssetKey(asset)]
    return materialization

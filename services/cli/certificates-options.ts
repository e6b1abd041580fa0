/** Usage of `kawasan certificates`, apart from its code so `--help` stays light. */

export const CERTIFICATES_USAGE = `kawasan certificates import FILE
    Registers the certificates of a CSV (header: id,type,mwh,vintage_from,vintage_to,production_hour,
    from,to,technology,registry,market,plant,retired_on,beneficiary) or JSON file (an array of
    objects with the API's fields). Every row is checked (unique id across the estate, known plant,
    market boundary, vintage); a bad row refuses the whole file with each row's line and reason, and
    nothing is imported. The rollup recomputes the days the retired ones cover within
    rollup.certificatePollSeconds.
kawasan certificates list
    The register: id, type, MWh, days covered, market, plant, status.`

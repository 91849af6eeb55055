// The public library: an app imports `Ripple` and gets the value model, schemas, cron schedules and the engine.
@_exported import RippleCron
@_exported import RippleEngine
@_exported import RippleValues

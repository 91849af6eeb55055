// The public library: an app imports `Ripple` and gets the value model, schemas and the engine.
@_exported import RippleEngine
@_exported import RippleValues

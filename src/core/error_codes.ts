/**
 * The closed vocabulary of error codes: every error body's `code` is one of these, and the
 * OpenAPI `Error` schema lists them. A new failure gets a code here first (the type checker
 * refuses any other string), with the sentence that says when a client sees it.
 */
export const errorCodes = {
  // code: [HTTP status, when a client sees it]
  bad_request: [400, "The request is malformed (for example a body that is not valid JSON)"],
  validation_failed: [400, "A parameter or a body field is missing or invalid; `error` says which"],
  invalid_value: [400, "A value has the wrong format or is out of range for storage"],
  invalid_sample: [422, "One sample of a batch is invalid; `error` names its index"],
  invalid_time_zone: [400, "The time zone is not an IANA name"],
  message_too_large: [400, "A stream message is larger than 100 KB"],
  unauthorized: [401, "No credential, or an invalid one"],
  invalid_credentials: [401, "Email or password is wrong"],
  invalid_token: [401, "The access token is invalid or expired"],
  invalid_refresh_token: [401, "The refresh token is invalid, expired or already used"],
  invalid_api_key: [401, "The API key is invalid or revoked"],
  invalid_id_token: [401, "The OpenID Connect ID token could not be verified"],
  invalid_share: [401, "The share link is invalid, expired or revoked"],
  rider_not_registered: [409, "API_KEY_RIDER names a rider who does not exist"],
  session_required: [403, "This needs a signed-in session (an API key cannot do it)"],
  email_not_verified: [409, "The identity provider has not verified this email address"],
  forbidden: [403, "The caller may not do this (for example another rider's stream)"],
  telemetry_expired: [
    410,
    "The ride's samples were dropped by TELEMETRY_RETENTION_DAYS; its totals and records remain",
  ],
  not_found: [404, "No such resource for this caller (another rider's resource is not found too)"],
  method_not_allowed: [405, "The path exists but not with this method; `Allow` lists the methods"],
  conflict: [409, "A record with these values already exists, or a related one does not"],
  email_taken: [409, "An account with this email address exists"],
  stream_in_use: [409, "An active workout already uses this stream name"],
  workout_active: [409, "The workout is still active (complete it first)"],
  workout_not_active: [400, "The workout is not active"],
  workout_already_completed: [
    400,
    "The workout was already completed (a retried complete succeeded)",
  ],
  duplicate_workout: [409, "The rider already has this ride; `existingWorkoutId` names it"],
  workout_closing: [409, "The workout is being archived; samples are no longer accepted"],
  too_many_api_keys: [409, "The rider has as many API keys as allowed"],
  too_many_webhooks: [409, "The rider has as many webhooks as allowed"],
  payload_too_large: [413, "The request body is larger than allowed"],
  too_many_samples: [413, "A file or batch holds more samples than allowed"],
  unsupported_media_type: [415, "The Content-Type is not one this route accepts"],
  unsupported_file: [415, "The file is not a FIT, TCX, GPX or CSV ride file"],
  empty_file: [400, "The file is empty"],
  invalid_encoding: [400, "The file's text is not valid UTF-8"],
  invalid_fit: [400, "The FIT file is corrupt"],
  truncated_fit: [400, "The FIT file ends before its declared size"],
  fit_crc_mismatch: [400, "The FIT file's checksum does not match its contents"],
  invalid_tcx: [400, "The TCX file is not a valid TCX document"],
  invalid_gpx: [400, "The GPX file is not a valid GPX document"],
  invalid_xml: [400, "The file is not well-formed XML"],
  invalid_gzip: [400, "The gzip file is corrupt or truncated"],
  invalid_zip: [400, "The zip archive is corrupt or truncated"],
  too_many_entries: [413, "The zip archive has more entries than allowed"],
  invalid_csv: [400, "The CSV file is malformed; `error` says where"],
  invalid_time: [422, "A sample time is missing, before 1990 or in the future"],
  no_samples: [422, "The file holds no samples with a time"],
  no_positions: [422, "The GPX file has no track points"],
  ride_too_long: [422, "The ride spans more than 48 hours"],
  webhook_url_refused: [
    422,
    "The webhook URL is not http(s), has credentials, or names a loopback or private address",
  ],
  not_enough_curve_points: [
    422,
    "Critical power needs at least 3 points of the power curve in the fit's duration range",
  ],
  unprocessable_entity: [422, "The request is well-formed but cannot be processed"],
  unknown_provider: [400, "No OpenID Connect provider of this name is configured"],
  too_many_attempts: [429, "Too many sign-in attempts; `Retry-After` says when to try again"],
  too_many_connections: [429, "Too many open live connections for this rider or address"],
  rate_limited: [429, "Too many requests; `Retry-After` says when to try again"],
  internal_error: [500, "A bug; the request id is in the log"],
  service_unavailable: [503, "The database or Redis is unavailable; retry after `Retry-After`"],
  provider_unavailable: [503, "The OpenID Connect provider could not be reached"],
  revocation_pending: [503, "The revocation could not be published yet; retry"],
  password_checks_busy: [
    503,
    "Too many sign-ins wait for a password check; retry after `Retry-After`",
  ],
} as const satisfies Record<string, readonly [number, string]>;

/** One error code. */
export type ErrorCode = keyof typeof errorCodes;

/** Every error code, in the order above. */
export const errorCodeList = Object.keys(errorCodes) as ErrorCode[];

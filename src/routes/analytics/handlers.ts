import type { RouteHandler } from "@hono/zod-openapi";
import { userIdOf } from "../../http/authenticate.ts";
import type { AppEnv } from "../../http/deps.ts";
import {
  bestsReport,
  criticalPowerReport,
  fitnessReport,
  ftpReport,
  powerCurveReport,
  recordsReport,
  totals,
  zonesReport,
} from "../../analytics/reports.ts";
import type * as specs from "./specs.ts";

/** GET /api/analytics/bests: best power for one duration per bucket. */
export const getBests: RouteHandler<typeof specs.bests, AppEnv> = async (c) => {
  const report = await bestsReport(c.var.deps, userIdOf(c.var.principal), c.req.valid("query"));
  return c.json(report, 200);
};

/** GET /api/analytics/power-curve: the power curve, optionally with a second range. */
export const getPowerCurve: RouteHandler<typeof specs.curve, AppEnv> = async (c) => {
  const report = await powerCurveReport(
    c.var.deps,
    userIdOf(c.var.principal),
    c.req.valid("query"),
  );
  return c.json(report, 200);
};

/** GET /api/analytics/totals: totals per calendar period in the rider's time zone. */
export const getTotals: RouteHandler<typeof specs.totals, AppEnv> = async (c) => {
  const report = await totals(c.var.deps, userIdOf(c.var.principal), c.req.valid("query"));
  return c.json(report, 200);
};

/** GET /api/analytics/records: all-time and yearly bests and the record history. */
export const getRecords: RouteHandler<typeof specs.records, AppEnv> = async (c) => {
  const report = await recordsReport(
    c.var.deps,
    userIdOf(c.var.principal),
    c.req.valid("query").tz,
  );
  return c.json(report, 200);
};

/** GET /api/analytics/ftp: the FTP estimate and the recorded FTP history. */
export const getFtpEstimate: RouteHandler<typeof specs.ftp, AppEnv> = async (c) => {
  const report = await ftpReport(
    c.var.deps,
    userIdOf(c.var.principal),
    c.req.valid("query").window,
  );
  return c.json(report, 200);
};

/** GET /api/analytics/fitness: daily CTL, ATL and TSB. */
export const getFitness: RouteHandler<typeof specs.fitness, AppEnv> = async (c) => {
  const report = await fitnessReport(c.var.deps, userIdOf(c.var.principal), c.req.valid("query"));
  return c.json(report, 200);
};

/** GET /api/analytics/zones: time in power and heart-rate zones over a range. */
export const getZones: RouteHandler<typeof specs.zones, AppEnv> = async (c) => {
  const report = await zonesReport(c.var.deps, userIdOf(c.var.principal), c.req.valid("query"));
  return c.json(report, 200);
};

/** GET /api/analytics/critical-power: CP and W′ fitted on a period's curve. */
export const getCriticalPower: RouteHandler<typeof specs.criticalPower, AppEnv> = async (c) => {
  const report = await criticalPowerReport(
    c.var.deps,
    userIdOf(c.var.principal),
    c.req.valid("query"),
  );
  return c.json(report, 200);
};

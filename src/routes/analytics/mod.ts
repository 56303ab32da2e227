import { onRoutes, requireUser } from "../../http/authenticate.ts";
import { createRouter } from "../../http/openapi.ts";
import * as handlers from "./handlers.ts";
import * as specs from "./specs.ts";

/** Routes under /api/analytics; every one needs a signed-in rider. */
export function analyticsRoutes() {
  const app = createRouter();
  app.use(onRoutes(requireUser));
  app.openapi(specs.bests, handlers.getBests);
  app.openapi(specs.curve, handlers.getPowerCurve);
  app.openapi(specs.totals, handlers.getTotals);
  app.openapi(specs.records, handlers.getRecords);
  app.openapi(specs.ftp, handlers.getFtpEstimate);
  app.openapi(specs.fitness, handlers.getFitness);
  app.openapi(specs.zones, handlers.getZones);
  app.openapi(specs.criticalPower, handlers.getCriticalPower);
  return app;
}

import { requireUser } from "../../http/authenticate.ts";
import { createRouter } from "../../http/openapi.ts";
import * as handlers from "./handlers.ts";
import * as specs from "./specs.ts";

/** Routes under /api/users; every one needs a signed-in rider. */
export function userRoutes() {
  const app = createRouter();
  app.use(requireUser);
  app.openapi(specs.getMe, handlers.getMeHandler);
  app.openapi(specs.patchMe, handlers.updateMeHandler);
  app.openapi(specs.deleteMe, handlers.deleteMeHandler);
  app.openapi(specs.getOne, handlers.getUserHandler);
  app.openapi(specs.putFtp, handlers.setFtpHandler);
  app.openapi(specs.getFtpHistory, handlers.getFtpHistoryHandler);
  app.openapi(specs.getStats, handlers.getUserStatsHandler);
  return app;
}

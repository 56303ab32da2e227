import { onRoutes, requireUser } from "../../http/authenticate.ts";
import { createRouter } from "../../http/openapi.ts";
import * as handlers from "./handlers.ts";
import * as specs from "./specs.ts";

/** Routes under /api/users; every one needs a signed-in rider. */
export function userRoutes() {
  const app = createRouter();
  app.use(onRoutes(requireUser));
  app.openapi(specs.getMe, handlers.getMe);
  app.openapi(specs.patchMe, handlers.updateMe);
  app.openapi(specs.deleteMe, handlers.deleteMe);
  app.openapi(specs.getOne, handlers.getUser);
  app.openapi(specs.putFtp, handlers.setFtp);
  app.openapi(specs.getFtpHistory, handlers.getFtpHistory);
  app.openapi(specs.getStats, handlers.getUserStats);
  app.openapi(specs.putWeight, handlers.setWeight);
  app.openapi(specs.getWeightHistory, handlers.getWeightHistory);
  app.openapi(specs.putCp, handlers.setCp);
  app.openapi(specs.getCpHistory, handlers.getCpHistory);
  return app;
}

import type { OpenAPIHono } from "@hono/zod-openapi";
import { onRoutes, requireUser } from "../../http/authenticate.ts";
import type { AppEnv } from "../../http/deps.ts";
import { createRouter } from "../../http/openapi.ts";
import * as handlers from "./handlers.ts";
import * as specs from "./specs.ts";

/** Routes under /api/workouts: every one needs a signed-in rider. */
export function workoutRoutes(): OpenAPIHono<AppEnv> {
  const router = createRouter();
  router.use("*", onRoutes(requireUser));
  return router
    .openapi(specs.createWorkoutRoute, handlers.createWorkout)
    .openapi(specs.importWorkoutRoute, handlers.importWorkout)
    .openapi(specs.importJobRoute, handlers.getImportJob)
    .openapi(specs.importJobEventsRoute, handlers.importJobEvents)
    .openapi(specs.exportWorkoutRoute, handlers.exportWorkout)
    .openapi(specs.originalFileRoute, handlers.getOriginalFile)
    .openapi(specs.addSamplesRoute, handlers.addSamples)
    .openapi(specs.liveSamplesRoute, handlers.listLiveSamples)
    .openapi(specs.completeWorkoutRoute, handlers.completeWorkout)
    .openapi(specs.listWorkoutsRoute, handlers.listWorkouts)
    .openapi(specs.workoutByStreamRoute, handlers.getWorkoutByStream)
    .openapi(specs.getWorkoutRoute, handlers.getWorkout)
    .openapi(specs.updateWorkoutRoute, handlers.updateWorkout)
    .openapi(specs.deleteWorkoutRoute, handlers.deleteWorkout)
    .openapi(specs.workoutTelemetryRoute, handlers.getWorkoutTelemetry)
    .openapi(specs.workoutLapsRoute, handlers.getWorkoutLaps);
}

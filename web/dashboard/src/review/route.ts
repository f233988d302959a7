/**
 * Which page the dashboard shows, kept in the URL fragment beside the join
 * token: `#token=…&view=review` is the review queue, `…&view=review&student=ID`
 * one student's review. The fragment never reaches the server (nor its
 * logs, nor a Referer), so a reviewer can bookmark or pass on a page
 * without the token travelling in a path or query; and the browser's Back
 * and Forward move between the pages, since each is a fragment of its own.
 */

export type Route = { readonly view: "live" } | { readonly view: "review"; readonly student?: string };

export const LIVE: Route = { view: "live" };
export const QUEUE: Route = { view: "review" };

/** The page a fragment names; anything unknown is the live dashboard. */
export function parseRoute(hash: string): Route {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  if (params.get("view") !== "review") return LIVE;
  const student = params.get("student");
  return student ? { view: "review", student } : QUEUE;
}

/**
 * The fragment for `route`, keeping everything else `hash` holds (the
 * token, a test's `exam`) as it was and in its place.
 */
export function routeHash(hash: string, route: Route): string {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  params.delete("view");
  params.delete("student");
  if (route.view === "review") {
    params.set("view", "review");
    if (route.student !== undefined) params.set("student", route.student);
  }
  return `#${params.toString()}`;
}

export const sameRoute = (a: Route, b: Route): boolean =>
  a.view === b.view && (a.view === "live" || (b.view === "review" && a.student === b.student));

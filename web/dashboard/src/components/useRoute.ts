import { useCallback, useMemo, useSyncExternalStore } from "react";
import { parseRoute, routeHash, sameRoute, type Route } from "../review/route";

const subscribe = (l: () => void) => {
  window.addEventListener("hashchange", l);
  return () => window.removeEventListener("hashchange", l);
};
const getHash = () => location.hash;

/** The page the URL fragment names (`review/route.ts`); follows Back and Forward. */
export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, getHash, getHash);
  return useMemo(() => parseRoute(hash), [hash]);
}

/** The link to `route` from here (the token kept in the fragment). */
export function hrefFor(route: Route): string {
  return routeHash(location.hash, route);
}

/** Goes to `route` as a new history entry (so Back returns), or nowhere if already there. */
export function useNavigate(): (route: Route) => void {
  return useCallback((route: Route) => {
    if (sameRoute(parseRoute(location.hash), route)) return;
    location.hash = routeHash(location.hash, route);
  }, []);
}

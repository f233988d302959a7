import { describe, expect, it } from "vitest";
import { LIVE, QUEUE, parseRoute, routeHash, sameRoute } from "./route";

const TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJleGFtIjoidWkiLCJzdWIiOiJwMSJ9.c2ln-_";

describe("the page in the URL fragment", () => {
  it("reads the live dashboard, the queue and one student", () => {
    expect(parseRoute(`#token=${TOKEN}`)).toEqual(LIVE);
    expect(parseRoute("")).toEqual(LIVE);
    expect(parseRoute(`#token=${TOKEN}&view=review`)).toEqual(QUEUE);
    expect(parseRoute(`#token=${TOKEN}&view=review&student=st%2F01`)).toEqual({ view: "review", student: "st/01" });
    // A student without the review view, an empty student, or an unknown view: not a review page.
    expect(parseRoute(`#token=${TOKEN}&student=st01`)).toEqual(LIVE);
    expect(parseRoute(`#token=${TOKEN}&view=review&student=`)).toEqual(QUEUE);
    expect(parseRoute(`#token=${TOKEN}&view=settings`)).toEqual(LIVE);
  });

  it("writes a page into the fragment, keeping the token and the rest as they were", () => {
    const base = `#token=${TOKEN}&exam=other`;
    const one = routeHash(base, { view: "review", student: "a b&c" });
    expect(one).toBe(`#token=${TOKEN}&exam=other&view=review&student=a+b%26c`);
    expect(parseRoute(one)).toEqual({ view: "review", student: "a b&c" });
    // From one student to the queue, then back to the live page: no trace of the review left.
    const queue = routeHash(one, QUEUE);
    expect(queue).toBe(`#token=${TOKEN}&exam=other&view=review`);
    expect(routeHash(queue, LIVE)).toBe(base);
    // The token itself is never touched (JWT characters pass through unescaped).
    expect(new URLSearchParams(one.slice(1)).get("token")).toBe(TOKEN);
  });

  it("compares pages", () => {
    expect(sameRoute(QUEUE, { view: "review" })).toBe(true);
    expect(sameRoute(QUEUE, { view: "review", student: "x" })).toBe(false);
    expect(sameRoute({ view: "review", student: "x" }, { view: "review", student: "x" })).toBe(true);
    expect(sameRoute(LIVE, QUEUE)).toBe(false);
    expect(sameRoute(LIVE, { view: "live" })).toBe(true);
  });
});

import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { TileGrid } from "./components/TileGrid";
import { createScoreStore, ScoreStoreContext } from "./store/scoreStore";
import "./styles.css";

// One store for the page. The socket client (to come) will call
// loadSnapshot on every (re)connect and applyScore/applyPresence/... per event.
const store = createScoreStore();

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <main>
      <h1>Vigil</h1>
      <ScoreStoreContext value={store}>
        <TileGrid />
      </ScoreStoreContext>
    </main>
  </StrictMode>,
);

// `?demo=N` fills the grid with N synthetic students and random updates.
const demo = new URLSearchParams(location.search).get("demo");
if (demo !== null) {
  const n = Math.min(Math.max(Number(demo) || 100, 1), 5000);
  void import("./demo").then(({ startDemo }) => startDemo(store, n));
}

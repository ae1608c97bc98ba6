// The mapping editor's trigger builder: a condition shows its path box only for property,
// trait and context conditions, its value box only for operators that take a value, and
// suggests event types for an event type condition. The server renders the same on every
// round trip; this keeps the row right between them.
(() => {
  const PATH_KINDS = new Set(["event-property", "event-trait", "event-context"]);
  const NO_VALUE_OPERATORS = new Set(["exists", "not_exists", "is_true", "is_false"]);

  function syncCondition(row) {
    const kind = row.querySelector("[data-role=kind]");
    const path = row.querySelector("[data-role=path]");
    const operator = row.querySelector("[data-role=operator]");
    const value = row.querySelector("[data-role=value]");
    if (!kind || !path || !operator || !value) {
      return;
    }
    path.hidden = !PATH_KINDS.has(kind.value);
    value.hidden = NO_VALUE_OPERATORS.has(operator.value);
    if (kind.value === "event-type") {
      value.setAttribute("list", "event-types");
    } else {
      value.removeAttribute("list");
    }
  }

  document.addEventListener("change", (event) => {
    const row = event.target.closest && event.target.closest(".condition");
    if (row) {
      syncCondition(row);
    }
  });
})();

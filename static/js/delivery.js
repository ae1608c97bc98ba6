// The Test mapping panel is opened with a copy of the mapping editor's draft; each of its
// requests sends the editor's current draft instead, so a test always runs what the user sees.
if (!window.ferryDeliveryLoaded) {
  window.ferryDeliveryLoaded = true;

  const DRAFT_FIELDS = ["action", "trigger", "fields"];

  const editorValue = (panel, name) => {
    const inputs = [...document.querySelectorAll(`[name="${name}"]`)].filter(
      (input) => !panel.contains(input) && !input.disabled,
    );
    const input = inputs.find((each) => !["radio", "checkbox"].includes(each.type) || each.checked);
    return input ? input.value : null;
  };

  document.addEventListener("htmx:configRequest", (event) => {
    const panel = event.detail.elt.closest(".mapping-test");
    // On the tester's own page the draft is edited in the panel itself.
    if (!panel || panel.querySelector('[name="standalone"]')) {
      return;
    }
    for (const name of DRAFT_FIELDS) {
      const value = editorValue(panel, name);
      if (value !== null) {
        event.detail.parameters.set(name, value);
      }
    }
  });
}

// The deliveries filter: choosing in a list filters at once; text is applied on Enter or
// with the Filter button.
if (!window.ferryDeliveryFiltersLoaded) {
  window.ferryDeliveryFiltersLoaded = true;

  document.addEventListener("change", (event) => {
    const form = event.target.closest(".delivery-filters");
    if (form && event.target.tagName === "SELECT") {
      form.requestSubmit();
    }
  });
}

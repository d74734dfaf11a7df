// The criteria builder: a visual editor of the gate's criteria tree, kept in sync with the JSON
// textarea (the "advanced" view). Everything it offers comes from the JSON Schema generated from
// the metric registry, so a new metric needs no change here. No inline script, no eval (CSP).
(function () {
  "use strict";

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([key, value]) => {
      if (key === "text") node.textContent = value;
      else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach((child) => child && node.appendChild(child));
    return node;
  }

  function labelled(text, control) {
    return el("label", {}, [el("span", { text }), control]);
  }

  const BRANCH_WORDS = { all: "All of these hold", any: "At least one of these holds", not: "This does not hold" };

  function Builder(root) {
    this.root = root;
    this.textarea = document.getElementById(root.dataset.for);
    this.config = JSON.parse(document.getElementById(root.dataset.config).textContent);
    this.defs = this.config.schema.$defs;
    this.mapping = this.defs.CriteriaLeaf.discriminator.mapping;
    this.tree = root.querySelector(".criteria-builder-tree");
    this.preview = root.querySelector(".criteria-builder-description");
    this.form = this.textarea.form;
    this.timer = null;
    this.readText();
    this.textarea.addEventListener("input", () => {
      if (this.readText()) { this.render(); this.scheduleDescribe(); }
    });
    const currency = this.form && this.form.querySelector("[name=currency]");
    if (currency) currency.addEventListener("change", () => this.scheduleDescribe());
    const program = this.form && this.form.querySelector("[name=program]");
    if (program) program.addEventListener("change", () => this.scheduleDescribe());
    this.render();
    this.describe();
  }

  Builder.prototype.readText = function () {
    const text = this.textarea.value.trim();
    try {
      const value = text ? JSON.parse(text) : null;
      this.value = value === null ? { all: [] } : value;
      this.jsonProblem = "";
      return true;
    } catch (error) {
      this.jsonProblem = "The JSON is not valid; the builder shows the last valid rule.";
      return false;
    }
  };

  Builder.prototype.changed = function (rerender) {
    this.textarea.value = JSON.stringify(this.value, null, 2);
    if (rerender) this.render();
    this.scheduleDescribe();
  };

  Builder.prototype.render = function () {
    this.tree.replaceChildren(this.node(this.value, "criteria", null));
  };

  // A node in the tree; `replace(newValue)` puts a new value in its parent (null removes it).
  Builder.prototype.node = function (value, path, replace) {
    const kind = value && typeof value === "object" ? ["all", "any", "not"].find((k) => k in value) : null;
    return kind ? this.branch(value, kind, path, replace) : this.leaf(value || {}, path, replace);
  };

  Builder.prototype.branch = function (value, kind, path, replace) {
    const self = this;
    const children = kind === "not" ? (value.not ? [value.not] : []) : value[kind] || [];
    const box = el("fieldset", { class: "cb-node cb-branch", "data-path": path }, [el("legend", { text: BRANCH_WORDS[kind] })]);
    if (!children.length) box.appendChild(el("p", { class: "cb-empty", text: "No condition yet: add one below." }));
    children.forEach((child, i) => {
      const childPath = kind === "not" ? `${path}.not` : `${path}.${kind}[${i}]`;
      box.appendChild(this.node(child, childPath, (next) => {
        if (kind === "not") { if (next === null) delete value.not; else value.not = next; }
        else if (next === null) value[kind].splice(i, 1);
        else value[kind][i] = next;
      }));
    });
    const add = (made) => () => {
      if (kind === "not") value.not = made();
      else (value[kind] = value[kind] || []).push(made());
      self.changed(true);
    };
    const actions = el("div", { class: "cb-actions" });
    if (kind !== "not" || !children.length) {
      [["Add a condition", () => ({})], ["Add an “all of” group", () => ({ all: [] })],
       ["Add an “any of” group", () => ({ any: [] })], ["Add a “not”", () => ({ not: {} })]].forEach(([text, made]) => {
        const button = el("button", { type: "button", class: "button", text });
        button.addEventListener("click", add(made));
        actions.appendChild(button);
      });
    }
    if (replace) actions.appendChild(this.removeButton("Remove this group", replace));
    box.appendChild(actions);
    return box;
  };

  Builder.prototype.removeButton = function (text, replace) {
    const button = el("button", { type: "button", class: "button cb-remove", text });
    button.addEventListener("click", () => {
      replace(null);
      this.changed(true);
    });
    return button;
  };

  Builder.prototype.leaf = function (value, path, replace) {
    const box = el("fieldset", { class: "cb-node cb-leaf", "data-path": path }, [el("legend", { text: "Condition" })]);
    const metric = el("select", { "data-path": `${path}.metric` }, [el("option", { value: "", text: "Choose a metric…" })]);
    Object.keys(this.mapping).forEach((name) => {
      const def = this.resolve(this.mapping[name]);
      metric.appendChild(el("option", { value: name, text: def.title || name, selected: value.metric === name }));
    });
    metric.addEventListener("change", () => {
      Object.keys(value).forEach((key) => delete value[key]);
      if (metric.value) Object.assign(value, { metric: metric.value, op: ">=", target: "" });
      this.changed(true);
    });
    const row = el("div", { class: "cb-row" }, [labelled("Metric", metric)]);
    box.appendChild(row);
    if (value.metric && this.mapping[value.metric]) {
      const def = this.resolve(this.mapping[value.metric]);
      if (def.description) box.appendChild(el("p", { class: "help", text: def.description }));
      const params = el("div", { class: "cb-row" });
      Object.entries(def.properties).forEach(([key, prop]) => {
        if (["metric", "op", "target"].includes(key)) return;
        params.appendChild(this.field(value, key, prop, `${path}.${key}`, (def.required || []).includes(key)));
      });
      box.appendChild(params);
      box.appendChild(el("div", { class: "cb-row" }, [
        this.field(value, "op", def.properties.op, `${path}.op`, true, "Comparison"),
        this.field(value, "target", def.properties.target, `${path}.target`, true, "Target"),
      ]));
    }
    if (replace) box.appendChild(el("div", { class: "cb-actions" }, [this.removeButton("Remove this condition", replace)]));
    return box;
  };

  Builder.prototype.resolve = function (schema) {
    let s = typeof schema === "string" ? { $ref: schema } : schema || {};
    while (s.$ref) s = this.defs[s.$ref.split("/").pop()];
    return s;
  };

  // One parameter's control, chosen from its schema: list of choices, number, date, yes/no or text.
  Builder.prototype.field = function (value, key, prop, path, required, label) {
    const schema = this.resolve(prop);
    const text = label || this.humanise(key, schema);
    const set = (next) => {
      if (next === undefined || next === "" || (Array.isArray(next) && !next.length)) delete value[key];
      else value[key] = next;
      this.changed(false);
    };
    if (schema.oneOf && schema.oneOf.some((o) => o.properties && o.properties.kind)) return this.windowField(value, key, schema, path, text);
    const list = (schema.anyOf || []).find((o) => o.type === "array");
    const choices = list ? list.items.enum || this.config.codes[key] : schema.enum || (schema.anyOf || []).find((o) => o.enum)?.enum;
    let control;
    if (list || (key === "target" && choices && ["in", "not_in"].includes(value.op))) {
      if (choices) {
        control = el("select", { multiple: true, size: Math.min(6, choices.length) });
        const current = [].concat(value[key] || []);
        choices.forEach((c) => control.appendChild(el("option", { value: c, text: c, selected: current.includes(c) })));
        control.addEventListener("change", () => set(Array.from(control.selectedOptions, (o) => o.value)));
      } else {
        control = el("input", { type: "text", value: [].concat(value[key] || []).join(", ") });
        control.addEventListener("change", () => set(control.value.split(",").map((v) => v.trim()).filter(Boolean)));
      }
    } else if (choices) {
      control = el("select", {}, [el("option", { value: "", text: required ? "Choose…" : "(default)" })]);
      choices.forEach((c) => control.appendChild(el("option", { value: c, text: c, selected: value[key] === c })));
      control.addEventListener("change", () => set(control.value));
    } else if (schema.type === "boolean") {
      control = el("input", { type: "checkbox", checked: value[key] === true });
      control.addEventListener("change", () => set(control.checked ? true : undefined));
    } else if (schema.type === "integer") {
      control = el("input", { type: "number", step: "1", min: schema.minimum, max: schema.maximum, value: value[key] ?? "" });
      control.addEventListener("change", () => set(control.value === "" ? undefined : Number(control.value)));
    } else if (schema.format === "date") {
      control = el("input", { type: "date", value: value[key] || "" });
      control.addEventListener("change", () => set(control.value));
    } else {
      const money = (schema.anyOf || []).some((o) => o.type === "number");
      control = el("input", { type: "text", inputmode: money ? "decimal" : undefined, value: value[key] ?? "" });
      control.addEventListener("change", () => set(money ? control.value.trim() : control.value));
    }
    control.setAttribute("data-path", path);
    if (required) control.setAttribute("aria-required", "true");
    return labelled(text, control);
  };

  Builder.prototype.windowField = function (value, key, schema, path, text) {
    const current = value[key] || {};
    const kinds = schema.oneOf.filter((o) => o.properties && o.properties.kind).map((o) => ({ kind: o.properties.kind.enum[0], words: o.properties.kind.description, schema: o }));
    const select = el("select", { "data-path": path }, [el("option", { value: "", text: "All time (default)" })]);
    kinds.forEach((k) => select.appendChild(el("option", { value: k.kind, text: k.words || k.kind, selected: current.kind === k.kind })));
    select.addEventListener("change", () => {
      if (select.value) value[key] = { kind: select.value };
      else delete value[key];
      this.changed(true);
    });
    const group = el("span", { class: "cb-row" }, [labelled(text, select)]);
    const chosen = kinds.find((k) => k.kind === current.kind);
    if (chosen) {
      Object.entries(chosen.schema.properties).forEach(([name, prop]) => {
        if (name === "kind" || (prop.enum && prop.enum.length === 1)) return;
        group.appendChild(this.field(current, name, prop, `${path}.${name}`, (chosen.schema.required || []).includes(name)));
      });
    }
    return group;
  };

  Builder.prototype.humanise = function (key, schema) {
    const words = key.replace(/_/g, " ");
    return words[0].toUpperCase() + words.slice(1) + (schema.description ? ` (${schema.description.replace(/\.$/, "")})` : "");
  };

  Builder.prototype.scheduleDescribe = function () {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.describe(), 250);
  };

  Builder.prototype.describe = function () {
    const body = new FormData();
    body.append("criteria", this.textarea.value);
    const currency = this.form && this.form.querySelector("[name=currency]");
    if (currency) body.append("currency", currency.value);
    // Without a currency of its own, a gate counts money in its program's.
    const program = this.form && this.form.querySelector("[name=program]");
    if (program) body.append("program", program.value);
    const token = this.form && this.form.querySelector("[name=csrfmiddlewaretoken]");
    fetch(this.root.dataset.describeUrl, {
      method: "POST", body, credentials: "same-origin", headers: token ? { "X-CSRFToken": token.value } : {},
    }).then((response) => response.text()).then((html) => {
      const parsed = new DOMParser().parseFromString(html, "text/html");
      this.preview.replaceChildren(...parsed.body.childNodes);
      if (this.jsonProblem) this.preview.prepend(el("p", { class: "cb-error", text: this.jsonProblem }));
      this.attachErrors(Array.from(this.preview.querySelectorAll("li[data-path]"), (li) => [li.dataset.path, li.textContent]));
    });
  };

  // Each problem goes beside the node it names (criteria.all[1].target), or the nearest node above it.
  Builder.prototype.attachErrors = function (errors) {
    this.tree.querySelectorAll(".cb-error").forEach((n) => n.remove());
    this.tree.querySelectorAll(".cb-invalid").forEach((n) => { n.classList.remove("cb-invalid"); n.removeAttribute("aria-invalid"); n.removeAttribute("aria-describedby"); });
    errors.forEach(([path, message], i) => {
      let target = null;
      let probe = path;
      while (probe && !(target = this.tree.querySelector(`[data-path="${CSS.escape(probe)}"]`))) {
        probe = probe.replace(/(\.[^.[\]]+|\[\d+\])$/, "") === probe ? "" : probe.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
      }
      target = target || this.tree.firstElementChild;
      if (!target) return;
      const id = `${this.textarea.id}-problem-${i}`;
      const note = el("p", { class: "cb-error", id, text: message });
      target.classList.add("cb-invalid");
      if (target.tagName === "FIELDSET") target.insertBefore(note, target.children[1] || null);
      else { target.closest("label").after(note); target.setAttribute("aria-invalid", "true"); }
      target.setAttribute("aria-describedby", ((target.getAttribute("aria-describedby") || "") + " " + id).trim());
    });
  };

  function start() {
    document.querySelectorAll(".criteria-builder[data-for]").forEach((root) => new Builder(root));
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

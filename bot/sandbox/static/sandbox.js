/* incidentbot sandbox page: a Slack-like client for the local Slack stand-in.
 *
 * It polls /sandbox/api/state for what the chosen user sees and sends what the user does to the
 * sandbox API, which plays it to the bot through the stand-in's SlackDriver (signed requests, as Slack).
 * Every string from the workspace is put on the page as text (textContent, never innerHTML); links are
 * only followed when they are http(s).
 */
"use strict";

(function () {
  const POLL_MS = 700;
  const DEFAULT_USER = "U0ALICE000";
  const EMOJI = {
    rotating_light: "🚨", white_check_mark: "✅", heavy_check_mark: "✔️", warning: "⚠️", pager: "📟",
    pushpin: "📌", round_pushpin: "📍", x: "❌", hourglass_flowing_sand: "⏳", hourglass: "⌛", fire: "🔥",
    red_circle: "🔴", large_green_circle: "🟢", large_yellow_circle: "🟡", large_orange_circle: "🟠",
    large_blue_circle: "🔵", white_circle: "⚪", black_circle: "⚫", eyes: "👀", "+1": "👍", thumbsup: "👍",
    "-1": "👎", thumbsdown: "👎", tada: "🎉", memo: "📝", bell: "🔔", no_bell: "🔕", link: "🔗",
    clipboard: "📋", chart_with_upwards_trend: "📈", chart_with_downwards_trend: "📉", bar_chart: "📊",
    information_source: "ℹ️", question: "❓", exclamation: "❗", heavy_exclamation_mark: "❗",
    arrow_right: "➡️", arrow_double_up: "⏫", arrow_up: "⬆️", arrow_down: "⬇️", zzz: "💤",
    stopwatch: "⏱️", alarm_clock: "⏰", calendar: "📅", date: "📅", bust_in_silhouette: "👤",
    busts_in_silhouette: "👥", loudspeaker: "📢", mega: "📣", construction: "🚧", rocket: "🚀", mag: "🔍",
    wrench: "🔧", hammer_and_wrench: "🛠️", sos: "🆘", book: "📖", books: "📚", scroll: "📜",
    page_facing_up: "📄", lock: "🔒", unlock: "🔓", speech_balloon: "💬", repeat: "🔁",
    arrows_counterclockwise: "🔄", boom: "💥", bug: "🐛", smile: "😄", slightly_smiling_face: "🙂",
    ok_hand: "👌", raised_hands: "🙌", raised_hand: "✋", pray: "🙏", point_right: "👉", no_entry: "⛔",
    no_entry_sign: "🚫", ballot_box_with_check: "☑️", white_large_square: "⬜", radio_button: "🔘",
    sparkles: "✨", star: "⭐", checkered_flag: "🏁", triangular_flag_on_post: "🚩", octagonal_sign: "🛑",
    dart: "🎯", fast_forward: "⏩", gear: "⚙️", package: "📦", bulb: "💡", pencil2: "✏️",
    spiral_note_pad: "🗒️", telephone_receiver: "📞", new: "🆕", zap: "⚡", skull: "💀", ambulance: "🚑",
    fire_engine: "🚒", mag_right: "🔎", heavy_plus_sign: "➕", heavy_minus_sign: "➖", thread: "🧵",
    memory: "🧠", sli_error: "📉", error_budget: "💰", current_burn_rate: "🔥", period_burn_rate: "📆",
    period_error_budget_remaining: "💰", objective: "🎯", time_period: "🗓️",
  };
  const QUICK_REACTIONS = [["pushpin", "Add :pushpin: (puts the message on the incident timeline)"],
    ["eyes", "Add :eyes:"], ["white_check_mark", "Add :white_check_mark:"]];
  const COLORS = ["#e8912d", "#2bac76", "#1264a3", "#9b59b6", "#e01e5a", "#36c5f0", "#4a154b", "#ecb22e"];

  const S = {
    user: null, channel: null, thread: null, data: null, lastText: "", seq: 0, pollTimer: null,
    seen: {}, forms: {}, errors: {}, modalKey: null, userKey: "", lastChannelRendered: null,
  };
  const $ = (id) => document.getElementById(id);

  // -- DOM helpers --------------------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key === "style") Object.assign(node.style, value); // CSSOM: allowed by the page's CSP
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function safeUrl(url) {
    try {
      const parsed = new URL(String(url));
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function decode(text) {
    return String(text).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  function toast(message, isError) {
    const node = $("toast");
    node.textContent = message;
    node.className = isError ? "error" : "";
    node.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { node.hidden = true; }, isError ? 7000 : 3500);
  }

  // -- people and channels -------------------------------------------------------------------------

  function user(id) {
    return (S.data && S.data.users.find((u) => u.id === id)) || null;
  }

  function userName(id) {
    const found = user(id);
    return found ? found.display_name || found.real_name || found.name : id;
  }

  function humans() {
    return (S.data ? S.data.users : []).filter((u) => !u.is_bot);
  }

  function channelName(id) {
    return (S.data && S.data.channel_names[id]) || null;
  }

  function color(id) {
    let hash = 0;
    for (const ch of String(id)) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
    return COLORS[hash % COLORS.length];
  }

  function avatar(author) {
    if (author.is_bot) return el("div", { class: "avatar", style: { background: "#b3261e" }, text: "ib" });
    const initials = author.name.split(/\s+/).map((w) => w[0] || "").join("").slice(0, 2).toUpperCase();
    return el("div", { class: "avatar", style: { background: color(author.id) }, text: initials });
  }

  function fmtTime(ts) {
    const date = new Date(parseFloat(ts) * 1000);
    return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  // -- text: plain_text with emoji, and Slack's mrkdwn ---------------------------------------------

  function emojify(text) {
    const out = [];
    let last = 0;
    const re = /:([a-z0-9_+-]+):/g;
    let match;
    while ((match = re.exec(text)) !== null) {
      if (!EMOJI[match[1]]) { re.lastIndex = match.index + 1; continue; }
      if (match.index > last) out.push(text.slice(last, match.index));
      out.push(el("span", { class: "emoji", title: match[0], text: EMOJI[match[1]] }));
      last = match.index + match[0].length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  function plain(obj) {
    if (!obj) return "";
    const text = typeof obj === "string" ? obj : String(obj.text || "");
    return el("span", {}, obj.emoji === false ? text : emojify(text));
  }

  function textObj(obj) {
    if (!obj) return "";
    return obj.type === "mrkdwn" ? el("div", { class: "msg-text" }, mrkdwn(obj.text || "")) : plain(obj);
  }

  function entity(inner) {
    const bar = inner.indexOf("|");
    const target = bar >= 0 ? inner.slice(0, bar) : inner;
    const label = bar >= 0 ? decode(inner.slice(bar + 1)) : null;
    if (/^@[UW][A-Z0-9]+$/.test(target)) {
      const id = target.slice(1);
      const known = user(id);
      const name = known ? userName(id) : (label || id).replace(/^@/, "");
      return el("span", { class: "mention" + (id === S.user ? " me" : ""), dataset: { user: id } }, "@" + name);
    }
    if (/^#[CGD][A-Z0-9]+$/.test(target)) {
      const id = target.slice(1);
      const name = channelName(id);
      if (!name) return el("span", { class: "mention" }, label ? "#" + label : "🔒 private channel");
      return el("a", { class: "channel-link", href: "#", dataset: { channel: id },
        onclick: (ev) => { ev.preventDefault(); selectChannel(id); } }, "#" + name);
    }
    if (target === "!here" || target === "!channel" || target === "!everyone") {
      return el("span", { class: "mention me" }, "@" + target.slice(1));
    }
    if (target.startsWith("!subteam^")) {
      const id = target.slice("!subteam^".length);
      const group = S.data && S.data.usergroups.find((g) => g.id === id);
      return el("span", { class: "mention" }, label || (group ? "@" + group.handle : "@" + id));
    }
    if (target.startsWith("!date^")) return label || target;
    const url = safeUrl(decode(target));
    if (url) return el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, label || decode(target));
    return label || decode(target);
  }

  function closing(text, start, marker) {
    if (start + 1 >= text.length || /\s/.test(text[start + 1])) return -1;
    for (let j = start + 2; j < text.length; j++) {
      if (text[j] === "\n") return -1;
      if (text[j] === marker && !/\s/.test(text[j - 1]) && (j + 1 === text.length || !/\w/.test(text[j + 1]))) {
        return j;
      }
    }
    return -1;
  }

  function inline(text, depth) {
    const out = [];
    let buffer = "";
    const flush = () => { if (buffer) { out.push(...emojify(decode(buffer))); buffer = ""; } };
    const tags = { "*": "b", _: "i", "~": "s" };
    let i = 0;
    while (i < text.length) {
      const c = text[i];
      if (c === "`") {
        const j = text.indexOf("`", i + 1);
        if (j > i + 1 && !text.slice(i + 1, j).includes("\n")) {
          flush();
          out.push(el("code", {}, decode(text.slice(i + 1, j))));
          i = j + 1;
          continue;
        }
      } else if (c === "<") {
        const j = text.indexOf(">", i + 1);
        if (j > i + 1 && !text.slice(i + 1, j).includes("\n")) {
          flush();
          out.push(entity(text.slice(i + 1, j)));
          i = j + 1;
          continue;
        }
      } else if (tags[c] && depth < 4 && (i === 0 || !/\w/.test(text[i - 1]))) {
        const j = closing(text, i, c);
        if (j > 0) {
          flush();
          out.push(el(tags[c], {}, inline(text.slice(i + 1, j), depth + 1)));
          i = j + 1;
          continue;
        }
      }
      buffer += c;
      i += 1;
    }
    flush();
    return out;
  }

  function mrkdwn(text) {
    const out = [];
    String(text).split("```").forEach((part, index) => {
      if (index % 2 === 1) {
        out.push(el("pre", { class: "code" }, decode(part.replace(/^\n/, ""))));
        return;
      }
      let quote = null;
      part.split("\n").forEach((line, n, lines) => {
        const quoted = /^(&gt;|>)\s?/.exec(line);
        const target = quoted ? (quote = quote || el("blockquote")) : null;
        if (!quoted && quote) { out.push(quote); quote = null; }
        const content = inline(quoted ? line.slice(quoted[0].length) : line, 0);
        if (target) {
          if (target.childNodes.length) target.append(el("br"));
          target.append(...content);
        } else {
          out.push(...content);
          if (n < lines.length - 1) out.push(el("br"));
        }
      });
      if (quote) out.push(quote);
    });
    return out;
  }

  function richText(block) {
    const inlineRich = (elements) => (elements || []).map((e) => {
      if (e.type === "text") {
        let node = el("span", {}, emojify(e.text || ""));
        const style = e.style || {};
        if (style.code) node = el("code", {}, e.text || "");
        if (style.bold) node = el("b", {}, node);
        if (style.italic) node = el("i", {}, node);
        if (style.strike) node = el("s", {}, node);
        return node;
      }
      if (e.type === "link") {
        const url = safeUrl(e.url);
        return url ? el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, e.text || e.url) : e.text || "";
      }
      if (e.type === "user") return entity("@" + e.user_id);
      if (e.type === "channel") return entity("#" + e.channel_id);
      if (e.type === "usergroup") return entity("!subteam^" + e.usergroup_id);
      if (e.type === "broadcast") return entity("!" + e.range);
      if (e.type === "emoji") return EMOJI[e.name] || `:${e.name}:`;
      return "";
    });
    const part = (p) => {
      if (p.type === "rich_text_section") return el("div", {}, inlineRich(p.elements));
      if (p.type === "rich_text_preformatted") return el("pre", { class: "code" }, inlineRich(p.elements));
      if (p.type === "rich_text_quote") return el("blockquote", {}, inlineRich(p.elements));
      if (p.type === "rich_text_list") {
        return el(p.style === "ordered" ? "ol" : "ul", {}, (p.elements || []).map((s) => el("li", {}, inlineRich(s.elements))));
      }
      return "";
    };
    return el("div", { class: "msg-text" }, (block.elements || []).map(part));
  }

  // -- Block Kit elements -------------------------------------------------------------------------

  function options(element) {
    const list = [...(element.options || [])];
    (element.option_groups || []).forEach((g) => list.push(...(g.options || [])));
    return list;
  }

  function initialValue(e) {
    switch (e.type) {
      case "plain_text_input": case "email_text_input": case "url_text_input": case "number_input":
        return e.initial_value ?? "";
      case "static_select": case "radio_buttons": case "external_select":
        return e.initial_option ? e.initial_option.value : null;
      case "multi_static_select": case "checkboxes":
        return (e.initial_options || []).map((o) => o.value);
      case "users_select": return e.initial_user ?? null;
      case "multi_users_select": return e.initial_users || [];
      case "conversations_select": return e.initial_conversation ?? null;
      case "channels_select": return e.initial_channel ?? null;
      case "multi_conversations_select": return e.initial_conversations || [];
      case "multi_channels_select": return e.initial_channels || [];
      case "datepicker": return e.initial_date ?? null;
      case "timepicker": return e.initial_time ?? null;
      case "datetimepicker": return e.initial_date_time ?? null;
      default: return undefined;
    }
  }

  function stateValue(entry) {
    if (!entry) return undefined;
    for (const key of ["value", "selected_user", "selected_users", "selected_conversation", "selected_channel",
      "selected_conversations", "selected_channels", "selected_date", "selected_time", "selected_date_time"]) {
      if (key in entry) return entry[key] ?? (key === "value" ? "" : null);
    }
    if ("selected_option" in entry) return entry.selected_option ? entry.selected_option.value : null;
    if ("selected_options" in entry) return (entry.selected_options || []).map((o) => o.value);
    return undefined;
  }

  const STATEFUL = new Set(["plain_text_input", "email_text_input", "url_text_input", "number_input",
    "static_select", "external_select", "radio_buttons", "multi_static_select", "checkboxes", "users_select",
    "multi_users_select", "conversations_select", "channels_select", "multi_conversations_select",
    "multi_channels_select", "datepicker", "timepicker", "datetimepicker"]);

  function blockElements(block) {
    if (block.type === "actions") return block.elements || [];
    if (block.type === "section" && block.accessory) return [block.accessory];
    if (block.type === "input" && block.element) return [block.element];
    return [];
  }

  function localDateTime(epoch) {
    if (epoch === null || epoch === undefined || epoch === "") return "";
    const d = new Date(Number(epoch) * 1000);
    const pad = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  }

  function selectNode(e, choices, initial, multiple, onChange) {
    const node = el("select", { class: "bk-select", multiple: multiple || undefined,
      dataset: { actionId: e.action_id, type: e.type } });
    if (!multiple) node.append(el("option", { value: "" }, e.placeholder ? e.placeholder.text : "Select an option"));
    const add = (parent, o) => parent.append(el("option", { value: o.value }, o.text ? o.text.text : o.value));
    choices.forEach((o) => add(node, o));
    (e.option_groups || []).forEach((g) => {
      const group = el("optgroup", { label: g.label ? g.label.text : "" });
      (g.options || []).forEach((o) => add(group, o));
      node.append(group);
    });
    const chosen = new Set(multiple ? initial || [] : [initial ?? ""]);
    Array.from(node.options).forEach((o) => { o.selected = chosen.has(o.value); });
    node.addEventListener("change", () => {
      if (multiple) onChange(Array.from(node.selectedOptions).map((o) => o.value));
      else onChange(node.value || null);
    });
    return node;
  }

  function choicesNode(e, initial, onChange) {
    const multiple = e.type === "checkboxes";
    const name = "r" + Math.random().toString(36).slice(2);
    const picked = new Set(multiple ? initial || [] : [initial]);
    const wrap = el("div", { class: "bk-choices", dataset: { actionId: e.action_id, type: e.type } });
    (e.options || []).forEach((o) => {
      const box = el("input", { type: multiple ? "checkbox" : "radio", name, value: o.value });
      box.checked = picked.has(o.value);
      box.addEventListener("change", () => {
        const boxes = Array.from(wrap.querySelectorAll("input"));
        if (multiple) onChange(boxes.filter((b) => b.checked).map((b) => b.value));
        else onChange(box.value);
      });
      wrap.append(el("label", {}, box, el("span", {}, textObj(o.text),
        o.description ? el("div", { class: "bk-choice-desc" }, textObj(o.description)) : "")));
    });
    return wrap;
  }

  function overflowNode(e, onChange) {
    const wrap = el("span", { class: "overflow" });
    const menu = el("div", { class: "menu", hidden: true });
    (e.options || []).forEach((o) => menu.append(el("button", { type: "button",
      onclick: () => { menu.hidden = true; onChange(o.value); } }, plain(o.text))));
    wrap.append(el("button", { type: "button", class: "btn", dataset: { actionId: e.action_id, type: e.type },
      "aria-label": "More actions", onclick: () => { menu.hidden = !menu.hidden; } }, "⋯"), menu);
    return wrap;
  }

  /* A control for a stateful element; `onChange(value)` gets the simple value the API expects. */
  function control(e, initial, onChange) {
    switch (e.type) {
      case "plain_text_input": case "email_text_input": case "url_text_input": case "number_input": {
        const multiline = e.type === "plain_text_input" && e.multiline;
        const node = el(multiline ? "textarea" : "input", {
          class: "bk-text",
          type: multiline ? undefined : { email_text_input: "email", url_text_input: "url" }[e.type] || "text",
          inputmode: e.type === "number_input" ? (e.is_decimal_allowed ? "decimal" : "numeric") : undefined,
          maxlength: e.type === "number_input" ? undefined : e.max_length,
          placeholder: e.placeholder ? e.placeholder.text : undefined,
          dataset: { actionId: e.action_id, type: e.type },
        });
        node.value = initial ?? "";
        node.addEventListener("input", () => onChange(node.value));
        return node;
      }
      case "static_select": case "external_select":
        return selectNode(e, e.options || [], initial, false, onChange);
      case "multi_static_select":
        return selectNode(e, e.options || [], initial, true, onChange);
      case "users_select": case "multi_users_select":
        return selectNode(e, humans().map((u) => ({ value: u.id, text: { text: `${u.real_name} (@${u.name})` } })),
          initial, e.type.startsWith("multi"), onChange);
      case "conversations_select": case "channels_select":
      case "multi_conversations_select": case "multi_channels_select": {
        const list = Object.entries(S.data.channel_names).map(([id, name]) => ({ value: id, text: { text: "#" + name } }));
        return selectNode(e, list, initial, e.type.startsWith("multi"), onChange);
      }
      case "checkboxes": case "radio_buttons":
        return choicesNode(e, initial, onChange);
      case "datepicker": case "timepicker": {
        const node = el("input", { class: "bk-date", type: e.type === "datepicker" ? "date" : "time",
          dataset: { actionId: e.action_id, type: e.type } });
        node.value = initial || "";
        node.addEventListener("change", () => onChange(node.value || null));
        return node;
      }
      case "datetimepicker": {
        const node = el("input", { class: "bk-date", type: "datetime-local", dataset: { actionId: e.action_id, type: e.type } });
        node.value = localDateTime(initial);
        node.addEventListener("change", () => {
          onChange(node.value ? Math.floor(new Date(node.value).getTime() / 1000) : null);
        });
        return node;
      }
      case "overflow":
        return overflowNode(e, onChange);
      default:
        return el("span", { class: "bk-unsupported" }, `[${e.type}]`);
    }
  }

  function withConfirm(confirm, go) {
    if (!confirm) { go(); return; }
    const root = $("dialog-root");
    const close = () => root.replaceChildren();
    root.replaceChildren(el("div", { class: "overlay" }, el("div", { class: "dialog", role: "dialog", dataset: { kind: "confirm" } },
      el("div", { class: "dialog-title" }, plain(confirm.title || { text: "Are you sure?" })),
      textObj(confirm.text),
      el("div", { class: "dialog-foot" },
        el("button", { type: "button", class: "btn", dataset: { role: "deny" }, onclick: close },
          plain(confirm.deny || { text: "Cancel" })),
        el("button", { type: "button", class: "btn " + (confirm.style === "danger" ? "danger" : "primary"),
          dataset: { role: "confirm" }, onclick: () => { close(); go(); } },
          plain(confirm.confirm || { text: "Yes" }))))));
  }

  function act(e, block, ctx, extra) {
    const body = { action_id: e.action_id, block_id: block.block_id, ...extra };
    if (ctx.kind === "view") {
      body.view_id = ctx.viewId;
      body.values = (S.forms[ctx.viewId] || {}).values || {};
    } else {
      body.channel = ctx.channel;
      body.message_ts = ctx.ts;
    }
    return api("action", body);
  }

  function buttonNode(e, block, ctx) {
    const style = e.style === "primary" ? " primary" : e.style === "danger" ? " danger" : "";
    return el("button", {
      type: "button", class: "btn" + style,
      dataset: { actionId: e.action_id, blockId: block.block_id, type: "button" },
      onclick: () => withConfirm(e.confirm, () => {
        const url = e.url && safeUrl(e.url);
        if (url) window.open(url, "_blank", "noopener,noreferrer");
        act(e, block, ctx, e.value !== undefined ? { value: e.value } : {});
      }),
    }, plain(e.text));
  }

  function formValue(viewId, blockId, actionId) {
    const form = S.forms[viewId];
    return form && form.values[blockId] ? form.values[blockId][actionId] : undefined;
  }

  function setFormValue(viewId, blockId, actionId, value) {
    const form = S.forms[viewId];
    if (!form) return;
    (form.values[blockId] = form.values[blockId] || {})[actionId] = value;
  }

  function elementNode(e, block, ctx) {
    if (e.type === "button") return buttonNode(e, block, ctx);
    if (e.type === "image") {
      const url = safeUrl(e.image_url);
      return url ? el("img", { src: url, alt: e.alt_text || "", referrerpolicy: "no-referrer" }) : el("span", {}, e.alt_text || "");
    }
    if (ctx.kind === "view" && STATEFUL.has(e.type)) {
      return control(e, formValue(ctx.viewId, block.block_id, e.action_id), (value) => {
        setFormValue(ctx.viewId, block.block_id, e.action_id, value);
        withConfirm(e.confirm, () => act(e, block, ctx, { selected: value }));
      });
    }
    return control(e, initialValue(e), (value) => withConfirm(e.confirm, () => act(e, block, ctx, { selected: value })));
  }

  function inputNode(block, ctx) {
    const e = block.element || {};
    const wrap = el("div", { class: "bk-input", dataset: { blockId: block.block_id } });
    wrap.append(el("div", { class: "bk-label" }, plain(block.label),
      block.optional ? el("span", { class: "bk-optional" }, " (optional)") : ""));
    wrap.append(control(e, formValue(ctx.viewId, block.block_id, e.action_id), (value) => {
      setFormValue(ctx.viewId, block.block_id, e.action_id, value);
      if (block.dispatch_action) act(e, block, ctx, { selected: value });
    }));
    if (block.hint) wrap.append(el("div", { class: "bk-hint" }, plain(block.hint)));
    wrap.append(el("div", { class: "bk-error", hidden: true, dataset: { blockId: block.block_id } }));
    return wrap;
  }

  function blockNode(block, ctx) {
    const data = { blockId: block.block_id || "", type: block.type };
    switch (block.type) {
      case "header":
        return el("div", { class: "bk-header", dataset: data }, plain(block.text));
      case "section": {
        const main = el("div", { class: "bk-section-main" });
        if (block.text) main.append(textObj(block.text));
        if (block.fields) main.append(el("div", { class: "bk-fields" }, block.fields.map((f) => el("div", {}, textObj(f)))));
        const row = el("div", { class: "bk-section", dataset: data }, main);
        if (block.accessory) row.append(el("div", { class: "bk-accessory" }, elementNode(block.accessory, block, ctx)));
        return row;
      }
      case "context":
        return el("div", { class: "bk-context", dataset: data }, (block.elements || []).map((e) => {
          if (e.type !== "image") return textObj(e);
          const url = safeUrl(e.image_url);
          return url ? el("img", { src: url, alt: e.alt_text || "", referrerpolicy: "no-referrer" }) : "";
        }));
      case "divider":
        return el("hr", { class: "bk-divider", dataset: data });
      case "actions":
        return el("div", { class: "bk-actions", dataset: data }, (block.elements || []).map((e) => elementNode(e, block, ctx)));
      case "image": {
        const url = safeUrl(block.image_url);
        return el("figure", { class: "bk-image", dataset: data },
          block.title ? el("div", { class: "bk-image-title" }, plain(block.title)) : "",
          url ? el("img", { src: url, alt: block.alt_text || "", referrerpolicy: "no-referrer" }) : block.alt_text || "");
      }
      case "input":
        return ctx.kind === "view" ? inputNode(block, ctx) : el("div", { class: "bk-unsupported" }, "[input block]");
      case "rich_text":
        return richText(block);
      default:
        return el("div", { class: "bk-unsupported", dataset: data }, `[${block.type} block]`);
    }
  }

  function blocksNode(blocks, ctx) {
    return el("div", { class: "blocks" }, (blocks || []).map((b) => blockNode(b, ctx)));
  }

  // -- messages ------------------------------------------------------------------------------------

  function attachmentsNode(message, ctx) {
    return (message.attachments || []).map((a) => {
      const bar = /^#?[0-9a-fA-F]{6}$/.test(a.color || "") ? "#" + a.color.replace("#", "") :
        { good: "#2eb67d", warning: "#ecb22e", danger: "#e01e5a" }[a.color] || "#dddddd";
      return el("div", { class: "attachment", style: { borderLeftColor: bar } },
        a.pretext ? el("div", { class: "msg-text" }, mrkdwn(a.pretext)) : "",
        a.title ? el("div", { class: "msg-text" }, el("b", {}, a.title)) : "",
        a.blocks ? blocksNode(a.blocks, ctx) : a.text ? el("div", { class: "msg-text" }, mrkdwn(a.text)) : "",
        (a.fields || []).map((f) => el("div", {}, el("b", {}, f.title || ""), el("div", {}, mrkdwn(f.value || "")))));
    });
  }

  function toolsNode(m, inThread) {
    const tools = el("div", { class: "msg-tools" });
    QUICK_REACTIONS.forEach(([name, title]) => tools.append(el("button", {
      type: "button", class: "tool-btn", title, "aria-label": title, dataset: { tool: "react", reaction: name },
      onclick: () => api("react", { channel: m.channel, ts: m.ts, reaction: name }),
    }, EMOJI[name])));
    if (!inThread) {
      tools.append(el("button", { type: "button", class: "tool-btn", title: "Reply in thread", dataset: { tool: "thread" },
        onclick: () => openThread(m.ts) }, "💬"));
    }
    const menu = el("div", { class: "menu", hidden: true });
    (S.data.message_shortcuts || []).forEach((s) => menu.append(el("button", {
      type: "button", dataset: { shortcut: s.callback_id },
      onclick: () => { menu.hidden = true; tools.classList.remove("open"); api("shortcut", { channel: m.channel, ts: m.ts, callback_id: s.callback_id }); },
    }, s.name)));
    tools.append(el("span", { class: "tool-more" }, el("button", {
      type: "button", class: "tool-btn", title: "More actions (message shortcuts)", dataset: { tool: "more" },
      onclick: () => { menu.hidden = !menu.hidden; tools.classList.toggle("open", !menu.hidden); },
    }, "⋮"), menu));
    return tools;
  }

  function messageNode(m, inThread) {
    const ctx = { kind: "message", channel: m.channel, ts: m.ts };
    const system = m.subtype === "channel_join";
    const classes = ["msg"];
    if (m.pinned) classes.push("pinned");
    if (m.ephemeral) classes.push("ephemeral");
    if (system) classes.push("system");
    const body = el("div", { class: "msg-body" },
      el("div", { class: "msg-head" },
        el("span", { class: "author" }, m.author.name),
        m.author.is_bot ? el("span", { class: "app-badge" }, "APP") : "",
        el("span", { class: "time", title: new Date(parseFloat(m.ts) * 1000).toLocaleString() }, fmtTime(m.ts)),
        m.edited ? el("span", { class: "edited" }, "(edited)") : "",
        m.pinned ? el("span", { class: "pin-marker", title: "Pinned to the channel" }, "📌 Pinned") : ""),
      m.ephemeral ? el("div", { class: "eph-note" }, "Only visible to you") : "",
      m.blocks && m.blocks.length ? blocksNode(m.blocks, ctx) : el("div", { class: "msg-text" }, mrkdwn(m.text || "")),
      attachmentsNode(m, ctx),
      m.files && m.files.length ? el("div", { class: "files" }, m.files.map((f) => el("a", {
        class: "file", href: f.url, target: "_blank", rel: "noopener", dataset: { fileId: f.id },
      }, "📄 ", el("span", {}, f.title || f.name), el("span", { class: "file-size" }, f.size ? `${f.size} bytes` : "")))) : "",
      m.reactions && m.reactions.length ? el("div", { class: "reactions" }, m.reactions.map((r) => el("button", {
        type: "button", class: "reaction" + (r.mine ? " mine" : ""), dataset: { reaction: r.name },
        title: `:${r.name}: by ${r.users.map(userName).join(", ")}`,
        onclick: () => api("react", { channel: m.channel, ts: m.ts, reaction: r.name }),
      }, EMOJI[r.name] || `:${r.name}:`, " ", String(r.count)))) : "",
      !inThread && m.reply_count ? el("button", { type: "button", class: "thread-link", dataset: { thread: m.ts },
        onclick: () => openThread(m.ts) }, `${m.reply_count} ${m.reply_count === 1 ? "reply" : "replies"}`) : "");
    const node = el("div", { class: classes.join(" "), dataset: { ts: m.ts, user: m.user } }, avatar(m.author), body);
    if (!m.ephemeral && !system) node.append(toolsNode(m, inThread));
    return node;
  }

  // -- rendering the state -------------------------------------------------------------------------

  function selectChannel(id) {
    if (!S.data || !S.data.channels.some((c) => c.id === id)) { toast("That channel is not visible to you.", true); return; }
    S.channel = id;
    S.thread = null;
    poll();
  }

  function openThread(ts) {
    S.thread = ts;
    poll();
  }

  function renderUsers(d) {
    const people = d.users.filter((u) => !u.is_bot);
    const key = people.map((u) => u.id + u.real_name).join("|");
    const select = $("user-switcher");
    if (key !== S.userKey) {
      S.userKey = key;
      select.replaceChildren(...people.map((u) => el("option", { value: u.id }, `${u.real_name} (@${u.name})`)));
    }
    select.value = S.user;
  }

  function sidebarItem(c, d) {
    const seen = (S.seen[S.user] = S.seen[S.user] || {});
    const unread = c.id !== S.channel && c.latest && parseFloat(c.latest) > parseFloat(seen[c.id] || "0");
    const prefix = c.kind === "im" ? "●" : c.kind === "private" ? "🔒" : "#";
    return el("li", {
      class: (c.id === S.channel ? "active" : "") + (unread ? " unread" : ""),
      dataset: { channel: c.id, name: c.name, kind: c.kind }, onclick: () => selectChannel(c.id),
    }, el("span", { class: "prefix" }, prefix), el("span", { class: "label", title: c.name }, c.name), unread ? el("span", { class: "badge" }, "new") : "");
  }

  function renderSidebar(d) {
    const byName = (a, b) => a.name.localeCompare(b.name);
    const joined = d.channels.filter((c) => c.kind !== "im" && c.member).sort(byName);
    const dms = d.channels.filter((c) => c.kind === "im");
    const others = d.channels.filter((c) => c.kind !== "im" && !c.member).sort(byName);
    $("channel-list").replaceChildren(...joined.map((c) => sidebarItem(c, d)));
    $("dm-list").replaceChildren(...(dms.length ? dms.map((c) => sidebarItem(c, d)) : [el("li", { class: "empty-item" }, "none yet")]));
    $("other-list").replaceChildren(...others.map((c) => sidebarItem(c, d)));
    $("team-name").textContent = d.team.name;
  }

  function renderChannel(d) {
    const c = d.channel;
    if (!c) return;
    const prefix = c.kind === "im" ? "" : c.kind === "private" ? "🔒 " : "# ";
    $("channel-title").replaceChildren(prefix + c.name, c.archived ? " (archived)" : "");
    $("channel-topic").replaceChildren(...(c.topic ? mrkdwn(c.topic) : c.purpose ? mrkdwn(c.purpose) : []));
    $("channel-meta").replaceChildren(
      el("span", { title: "Members" }, `👥 ${c.num_members}`),
      el("span", { title: "Pinned messages", dataset: { pins: c.pins } }, `📌 ${c.pins} pinned`));
    const joinable = c.kind === "public" && !c.member;
    $("join-bar").hidden = !joinable;
    $("join-text").textContent = `You are viewing #${c.name}.`;
    $("composer").hidden = joinable;
    $("composer-input").placeholder = c.kind === "im" ? `Message ${c.name}` : `Message #${c.name}`;

    const box = $("messages");
    const switched = S.lastChannelRendered !== c.id;
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    const top = box.scrollTop;
    box.replaceChildren(...(d.messages.length ? d.messages.map((m) => messageNode(m, false)) :
      [el("div", { class: "empty" }, c.kind === "im" ? "No messages yet. Pages and reminders arrive here." :
        "No messages yet. Type /incident declare <title> below to start an incident.")]));
    box.scrollTop = switched || atBottom ? box.scrollHeight : top;
    S.lastChannelRendered = c.id;
    const seen = (S.seen[S.user] = S.seen[S.user] || {});
    if (c.latest) seen[c.id] = c.latest;
  }

  function renderThread(d) {
    const pane = $("thread-pane");
    if (!S.thread || !d.thread) { pane.hidden = true; if (!d.thread) S.thread = null; return; }
    pane.hidden = false;
    $("thread-channel").textContent = d.channel ? (d.channel.kind === "im" ? d.channel.name : "#" + d.channel.name) : "";
    const [parent, ...replies] = d.thread.messages;
    const box = $("thread-messages");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
    box.replaceChildren(messageNode(parent, true),
      el("div", { class: "thread-divider" }, `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`),
      ...replies.map((m) => messageNode(m, true)));
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  // -- modals --------------------------------------------------------------------------------------

  function initialForm(view) {
    const values = {};
    const state = (view.state && view.state.values) || {};
    (view.blocks || []).forEach((block) => blockElements(block).forEach((e) => {
      if (!STATEFUL.has(e.type)) return;
      const stored = stateValue((state[block.block_id] || {})[e.action_id]);
      (values[block.block_id] = values[block.block_id] || {})[e.action_id] = stored !== undefined ? stored : initialValue(e);
    }));
    return { hash: view.hash, values };
  }

  function applyErrors(viewId) {
    const errors = S.errors[viewId] || {};
    const root = $("modal-root");
    const known = new Set();
    root.querySelectorAll(".bk-input").forEach((input) => {
      const message = errors[input.dataset.blockId];
      const slot = input.querySelector(".bk-error");
      input.classList.toggle("has-error", Boolean(message));
      slot.textContent = message || "";
      slot.hidden = !message;
      known.add(input.dataset.blockId);
    });
    const general = root.querySelector(".modal-error");
    if (general) {
      const rest = Object.entries(errors).filter(([block]) => !known.has(block)).map(([, m]) => m);
      general.textContent = rest.join(" ");
      general.hidden = rest.length === 0;
    }
  }

  async function submitView(view, button) {
    button.disabled = true;
    try {
      const result = await api("submit", { view_id: view.id, values: S.forms[view.id].values });
      if (result.errors) {
        S.errors[view.id] = result.errors;
        applyErrors(view.id);
      }
    } finally {
      button.disabled = false;
    }
  }

  function renderModal(d) {
    const views = d.views || [];
    const root = $("modal-root");
    const view = views[views.length - 1];
    if (!view) {
      if (S.modalKey !== null) root.replaceChildren();
      S.modalKey = null;
      return;
    }
    const key = `${S.user}:${view.id}:${view.hash}`;
    if (key === S.modalKey) return;
    S.modalKey = key;
    if (!S.forms[view.id] || S.forms[view.id].hash !== view.hash) {
      S.forms[view.id] = initialForm(view);
      delete S.errors[view.id];
    }
    const ctx = { kind: "view", viewId: view.id };
    const close = () => api("close", { view_id: view.id });
    const submit = el("button", { type: "button", class: "btn primary", dataset: { role: "submit" } }, plain(view.submit));
    submit.addEventListener("click", () => submitView(view, submit));
    const stack = views.filter((v) => v.root_view_id === view.root_view_id).length;
    root.replaceChildren(el("div", { class: "overlay" }, el("div", {
      class: "modal", role: "dialog", "aria-modal": "true",
      dataset: { viewId: view.id, callbackId: view.callback_id || "", hash: view.hash },
    },
      el("div", { class: "modal-head" },
        el("div", { class: "modal-title" }, plain(view.title)),
        stack > 1 ? el("span", { class: "modal-stack" }, `${stack} of ${stack}`) : "",
        el("button", { type: "button", class: "icon-btn", "aria-label": "Close", dataset: { role: "dismiss" }, onclick: close }, "×")),
      el("div", { class: "modal-body" }, blocksNode(view.blocks, ctx), el("div", { class: "modal-error", hidden: true })),
      el("div", { class: "modal-foot" },
        el("button", { type: "button", class: "btn", dataset: { role: "close" }, onclick: close },
          plain(view.close || { text: stack > 1 ? "Back" : "Cancel" })),
        view.submit ? submit : ""))));
    applyErrors(view.id);
    const first = root.querySelector(".bk-text, .bk-select");
    if (first && document.activeElement === document.body) first.focus();
  }

  function render() {
    const d = S.data;
    if (d.channel && d.channel.id !== S.channel) S.channel = d.channel.id;
    document.body.dataset.me = d.me;
    renderUsers(d);
    renderSidebar(d);
    renderChannel(d);
    renderThread(d);
    renderModal(d);
  }

  // -- talking to the sandbox ----------------------------------------------------------------------

  async function api(path, body) {
    let data = {};
    try {
      const response = await fetch("/sandbox/api/" + path, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ user: S.user, ...body }),
      });
      try { data = await response.json(); } catch (e) { data = { ok: false, error: `HTTP ${response.status}` }; }
      if (!response.ok && data.ok !== false) data = { ok: false, error: `HTTP ${response.status}` };
    } catch (e) {
      data = { ok: false, error: "The sandbox is not answering (is `incidentbot sandbox` still running?)" };
    }
    if (data.ok === false && path !== "message") toast(data.error || "That did not work.", true);
    poll();
    return data;
  }

  async function poll() {
    clearTimeout(S.pollTimer);
    const seq = ++S.seq;
    const query = new URLSearchParams({ user: S.user });
    if (S.channel) query.set("channel", S.channel);
    if (S.thread) query.set("thread", S.thread);
    try {
      const response = await fetch("/sandbox/api/state?" + query.toString(), { cache: "no-store" });
      const text = await response.text();
      if (seq !== S.seq) return;
      if (response.status === 400 && S.user !== DEFAULT_USER) {
        S.user = DEFAULT_USER;
      } else if (response.ok && text !== S.lastText) {
        S.lastText = text;
        S.data = JSON.parse(text);
        render();
      }
      document.body.classList.remove("offline");
    } catch (e) {
      if (seq !== S.seq) return;
      document.body.classList.add("offline");
    }
    S.pollTimer = setTimeout(poll, POLL_MS);
  }

  async function send(input, threadTs) {
    const text = input.value.trim();
    if (!text || !S.channel) return;
    const notice = $("composer-notice");
    const result = await api("message", { channel: S.channel, text, thread_ts: threadTs || undefined });
    if (result.ok) {
      input.value = "";
      notice.hidden = true;
    } else if (!threadTs) {
      notice.textContent = result.error || "That did not work.";
      notice.hidden = false;
    } else {
      toast(result.error || "That did not work.", true);
    }
  }

  function composer(form, input, threadTs) {
    form.addEventListener("submit", (ev) => { ev.preventDefault(); send(input, threadTs()); });
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); send(input, threadTs()); }
    });
  }

  function start() {
    try { S.user = sessionStorage.getItem("sandbox-user") || DEFAULT_USER; } catch (e) { S.user = DEFAULT_USER; }
    $("user-switcher").addEventListener("change", (ev) => {
      S.user = ev.target.value;
      S.thread = null;
      S.modalKey = null;
      S.lastText = "";
      try { sessionStorage.setItem("sandbox-user", S.user); } catch (e) { /* private mode */ }
      poll();
    });
    composer($("composer"), $("composer-input"), () => null);
    composer($("thread-composer"), $("thread-input"), () => S.thread);
    $("thread-close").addEventListener("click", () => { S.thread = null; poll(); });
    $("join-button").addEventListener("click", () => api("join", { channel: S.channel }));
    document.addEventListener("keydown", (ev) => {
      if (ev.key !== "Escape") return;
      if ($("dialog-root").childNodes.length) { $("dialog-root").replaceChildren(); return; }
      const modal = $("modal-root").querySelector(".modal");
      if (modal) api("close", { view_id: modal.dataset.viewId });
    });
    poll();
  }

  document.addEventListener("DOMContentLoaded", start);
})();

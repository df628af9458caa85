// Recall's cache dashboard. Hand-written, no build step; served with a CSP that allows only this
// server's own files. Every datum comes from GraphQL with the bearer token the sign-in form got,
// which lives in this closure only: never in storage or cookies, so closing the page ends it.
(() => {
  'use strict';

  const POLL_MS = 1500;
  /** The window the charts' ratios are computed over, and how much history the charts show. */
  const WINDOW_S = 60;
  const HISTORY_S = 600;
  const FEED_MAX = 100;
  const RECONNECT_MS = 2000;
  const KINDS = ['memory', 'score', 'session', 'user', 'context', 'apikey'];
  /** What purgeCache takes by typename and id (sessions and keys end by revocation, not by purging). */
  const PURGEABLE = new Set(['Memory', 'Context', 'User']);
  const COLORS = ['#2563eb', '#d97706', '#7c3aed', '#059669', '#db2777', '#0891b2'];

  const LOGIN = `mutation DashboardLogin($input: LoginInput!) {
    login(input: $input) { token user { email } errors { code message } }
  }`;
  const LOGOUT = 'mutation DashboardLogout { logout { errors { code message } } }';
  const STATS = `query DashboardStats {
    cacheStats {
      lookups { kind tier hits misses hitRatio }
      latency { kind tier count sumSeconds }
      responses { hits misses hitRatio frontOk frontNotModified }
      topKeys { key kind score method }
      circuit
    }
  }`;
  const FEED = `subscription DashboardFeed {
    cacheInvalidated { id reason occurredAt source contextId entities { typename id } }
  }`;
  const PURGE = `mutation DashboardPurge($input: PurgeCacheInput!) {
    purgeCache(input: $input) { purged errors { code message } }
  }`;

  const $ = (id) => document.getElementById(id);

  /** The session: its token and what runs on its behalf. Null when signed out. */
  let session = null;

  // ---- GraphQL over fetch ----

  class GraphQLFailure extends Error {
    constructor(message, code) {
      super(message);
      this.code = code;
    }
  }

  async function graphql(query, variables) {
    const headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
    if (session) headers.authorization = `Bearer ${session.token}`;
    const response = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    let body;
    try {
      body = await response.json();
    } catch {
      throw new GraphQLFailure(`The server answered ${response.status} without a GraphQL result.`, 'HTTP');
    }
    const error = body.errors && body.errors[0];
    if (error) throw new GraphQLFailure(error.message, (error.extensions && error.extensions.code) || 'ERROR');
    return body.data;
  }

  // ---- sign-in ----

  $('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    $('login-error').textContent = '';
    try {
      const data = await graphql(LOGIN, { input: { email: form.get('email'), password: form.get('password') } });
      const payload = data.login;
      if (!payload || !payload.token) {
        const error = payload && payload.errors[0];
        $('login-error').textContent = error ? error.message : 'Sign-in failed.';
        return;
      }
      event.target.reset();
      start(payload.token, payload.user ? payload.user.email : '');
    } catch (error) {
      $('login-error').textContent = error.message;
    }
  });

  $('sign-out').addEventListener('click', async () => {
    if (!session) return;
    try {
      await graphql(LOGOUT);
    } catch {
      // The token is forgotten either way; an ended session cannot be ended again.
    }
    stop('');
  });

  function show(view) {
    for (const id of ['sign-in', 'refusal', 'board']) $(id).hidden = id !== view;
  }

  function start(token, email) {
    session = { token, email, timer: null, feed: new AbortController(), samples: [] };
    $('who').textContent = `Signed in as ${email}`;
    $('sign-out').hidden = false;
    poll(true);
  }

  /** Forgets the token and stops every request made with it. */
  function stop(message) {
    if (session) {
      clearTimeout(session.timer);
      session.feed.abort();
    }
    session = null;
    $('who').textContent = '';
    $('sign-out').hidden = true;
    $('login-error').textContent = message;
    show('sign-in');
  }

  // ---- statistics, polled ----

  async function poll(first) {
    const current = session;
    if (!current) return;
    try {
      const data = await graphql(STATS);
      if (session !== current) return;
      if (first) open(current);
      $('poll-error').textContent = '';
      render(current, data.cacheStats);
    } catch (error) {
      if (session !== current) return;
      if (error.code === 'FORBIDDEN') {
        $('refusal-text').textContent = `${current.email} is not an admin: the dashboard shows the caches to admins only (the server answered FORBIDDEN). Sign out and sign in with an admin account.`;
        show('refusal');
        return;
      }
      if (error.code === 'UNAUTHENTICATED') {
        stop('The session ended: sign in again.');
        return;
      }
      if (first) open(current);
      $('poll-error').textContent = error.message;
    }
    current.timer = setTimeout(() => poll(false), POLL_MS);
  }

  /** Shows the board and starts the feed: once per session, when the first poll did not refuse it. */
  function open(current) {
    show('board');
    follow(current);
  }

  const percent = (ratio) => (ratio === null || ratio === undefined ? '–' : `${(ratio * 100).toFixed(1)} %`);
  const counted = (count, noun) => `${count} ${noun}${count === 1 ? '' : noun.endsWith('s') ? 'es' : 's'}`;
  const sum = (items, field) => items.reduce((total, item) => total + item[field], 0);

  function render(current, stats) {
    const now = Date.now() / 1000;
    current.samples.push({ t: now, stats });
    while (current.samples.length > 1 && current.samples[0].t < now - HISTORY_S - WINDOW_S) current.samples.shift();

    const { responses, lookups } = stats;
    $('response-ratio').textContent = percent(responses.hitRatio);
    $('response-counts').textContent =
      `${counted(responses.hits, 'hit')}, ${counted(responses.misses, 'miss')} since start; the front answered ${responses.frontOk} (200) and ${responses.frontNotModified} (304)`;
    const hits = sum(lookups, 'hits');
    const misses = sum(lookups, 'misses');
    $('entity-ratio').textContent = percent(hits + misses === 0 ? null : hits / (hits + misses));
    $('entity-counts').textContent = `${counted(hits, 'hit')}, ${counted(misses, 'miss')} since start`;
    $('circuit').textContent = stats.circuit;
    $('circuit').className = `big ${stats.circuit}`;
    $('updated').textContent = new Date().toLocaleTimeString();

    fillTable($('lookups'), lookups.map((row) => [row.kind, row.tier, row.hits, row.misses, percent(row.hitRatio)]));
    fillTable($('top-keys'), stats.topKeys.map((row) => [row.key, row.kind, row.score, row.method]), [0]);
    $('top-keys-empty').hidden = stats.topKeys.length > 0;
    drawCharts(current.samples);
  }

  function fillTable(table, rows, keyColumns = []) {
    const body = table.tBodies[0];
    body.replaceChildren(
      ...rows.map((cells) => {
        const tr = document.createElement('tr');
        cells.forEach((cell, index) => {
          const td = document.createElement('td');
          td.textContent = String(cell);
          if (keyColumns.includes(index)) td.className = 'key';
          tr.append(td);
        });
        return tr;
      }),
    );
  }

  // ---- charts: ratios over a sliding window, from the since-start counters ----

  /** Hits and misses of a kind (every tier), or of the response cache, in one sample. */
  function countsOf(stats, kind) {
    if (kind === 'response') return { hits: stats.responses.hits, misses: stats.responses.misses };
    const rows = stats.lookups.filter((row) => row.kind === kind);
    return { hits: sum(rows, 'hits'), misses: sum(rows, 'misses') };
  }

  /** The ratio of the lookups made in the window before sample `index`; null when there were none. */
  function windowRatio(samples, index, kind) {
    const end = samples[index];
    let startIndex = index;
    while (startIndex > 0 && samples[startIndex - 1].t >= end.t - WINDOW_S) startIndex -= 1;
    // The first sample's counters are since start: with nothing before it, they are the window.
    const before = startIndex === index && index === 0 ? { hits: 0, misses: 0 } : countsOf(samples[startIndex].stats, kind);
    const after = countsOf(end.stats, kind);
    const hits = after.hits - before.hits;
    const total = hits + after.misses - before.misses;
    return total === 0 ? null : hits / total;
  }

  /**
   * The mean time of a lookup of `kind` in the window before sample `index`, in ms: the time
   * every tier spent on the kind, over the lookups of its first tier (the one asked the most,
   * which every lookup asks); null when there were none.
   */
  function windowLatency(samples, index, kind) {
    const end = samples[index];
    let startIndex = index;
    while (startIndex > 0 && samples[startIndex - 1].t >= end.t - WINDOW_S) startIndex -= 1;
    const totals = (stats) => {
      const rows = (stats.latency ?? []).filter((row) => row.kind === kind);
      return { seconds: sum(rows, 'sumSeconds'), lookups: Math.max(0, ...rows.map((row) => row.count)) };
    };
    const before = startIndex === index && index === 0 ? { seconds: 0, lookups: 0 } : totals(samples[startIndex].stats);
    const after = totals(end.stats);
    const lookups = after.lookups - before.lookups;
    return lookups <= 0 ? null : ((after.seconds - before.seconds) / lookups) * 1000;
  }

  let charts = null;

  function chartSize(element) {
    return { width: Math.max(280, element.clientWidth), height: 220 };
  }

  const RATIO = { range: [0, 1], tick: (tick) => `${Math.round(tick * 100)} %`, value: percent };
  const MILLISECONDS = { range: (_chart, _min, max) => [0, Math.max(1, max ?? 1)], tick: (tick) => `${tick} ms`, value: (v) => (v === null || v === undefined ? '–' : `${v.toFixed(2)} ms`) };

  function newChart(element, series, unit = RATIO) {
    const options = {
      ...chartSize(element),
      scales: { x: { time: true }, y: { range: unit.range } },
      axes: [{}, { size: 64, values: (_chart, ticks) => ticks.map(unit.tick) }],
      series: [{}, ...series.map((label, index) => ({ label, stroke: COLORS[index % COLORS.length], width: 2, spanGaps: true, value: (_chart, v) => unit.value(v) }))],
    };
    // uPlot is the global its own script (served before this one) defines.
    return new uPlot(options, [[], ...series.map(() => [])], element);
  }

  function drawCharts(samples) {
    if (!charts) {
      charts = {
        kinds: newChart($('kind-chart'), KINDS),
        latency: newChart($('latency-chart'), [...KINDS, 'response'], MILLISECONDS),
        responses: newChart($('response-chart'), ['responses']),
      };
      window.addEventListener('resize', () => {
        charts.kinds.setSize(chartSize($('kind-chart')));
        charts.latency.setSize(chartSize($('latency-chart')));
        charts.responses.setSize(chartSize($('response-chart')));
      });
    }
    const shown = samples.filter((sample) => sample.t >= samples[samples.length - 1].t - HISTORY_S);
    const offset = samples.length - shown.length;
    const times = shown.map((sample) => sample.t);
    const series = (kind) => shown.map((_sample, index) => windowRatio(samples, offset + index, kind));
    charts.kinds.setData([times, ...KINDS.map(series)]);
    charts.latency.setData([times, ...[...KINDS, 'response'].map((kind) => shown.map((_sample, index) => windowLatency(samples, offset + index, kind)))]);
    charts.responses.setData([times, series('response')]);
  }

  // ---- the invalidation feed: graphql-sse's distinct connections mode, read with fetch ----
  // EventSource cannot send Authorization, so the stream is a POST whose body is read as SSE.

  async function follow(current) {
    let lastEventId = null;
    const { signal } = current.feed;
    while (!signal.aborted) {
      try {
        const headers = { authorization: `Bearer ${current.token}`, accept: 'text/event-stream', 'content-type': 'application/json' };
        // Resumes after the last event received: what was missed meanwhile is sent first.
        if (lastEventId) headers['last-event-id'] = lastEventId;
        const response = await fetch('/graphql', { method: 'POST', headers, body: JSON.stringify({ query: FEED }), signal });
        if (!(response.headers.get('content-type') || '').startsWith('text/event-stream')) {
          const body = await response.json().catch(() => null);
          const error = body && body.errors && body.errors[0];
          feedState(`refused: ${error ? error.message : response.status}`, false);
          if (response.status === 401 || response.status === 403) return;
        } else {
          feedState('live', true);
          for await (const event of serverSentEvents(response.body)) {
            if (event.id) lastEventId = event.id;
            if (event.event === 'next') received(JSON.parse(event.data));
            if (event.event === 'complete') break;
          }
        }
      } catch (error) {
        if (signal.aborted) return;
        feedState(`disconnected: ${error.message}`, false);
      }
      if (signal.aborted) return;
      feedState('reconnecting', false);
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
    }
  }

  function feedState(text, live) {
    $('feed-state').textContent = text;
    $('feed-state').className = live ? 'badge live' : 'badge';
  }

  /** The events of an SSE body: `{ event, id, data }` per blank-line-terminated block; comments (keep-alives) skipped. */
  async function* serverSentEvents(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.search(/\r?\n\r?\n/)) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
        const event = { event: 'message', id: null, data: '' };
        for (const line of block.split(/\r?\n/)) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon === -1 ? line : line.slice(0, colon);
          const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'data') event.data += event.data ? `\n${value}` : value;
          else if (field === 'event') event.event = value;
          else if (field === 'id') event.id = value;
        }
        if (event.data || event.event !== 'message') yield event;
      }
    }
  }

  function received(result) {
    const error = result.errors && result.errors[0];
    if (error) {
      feedState(`error: ${error.message}`, false);
      return;
    }
    const invalidation = result.data && result.data.cacheInvalidated;
    if (invalidation) addToFeed(invalidation);
  }

  function addToFeed(invalidation) {
    const item = document.createElement('li');
    item.dataset.reason = invalidation.reason;
    const meta = document.createElement('div');
    meta.className = 'meta';
    const reason = document.createElement('span');
    reason.className = 'reason';
    reason.textContent = invalidation.reason;
    const context = invalidation.contextId ? ` · context ${invalidation.contextId}` : '';
    meta.append(reason, ` · ${new Date(invalidation.occurredAt).toLocaleTimeString()} · from ${invalidation.source}${context}`);
    const entities = document.createElement('div');
    for (const entity of invalidation.entities) {
      const span = document.createElement('span');
      span.className = 'entity';
      span.textContent = entity.id ? `${entity.typename} ${entity.id}` : `every ${entity.typename}`;
      if (entity.id && PURGEABLE.has(entity.typename)) {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'small danger';
        button.textContent = 'Purge';
        button.addEventListener('click', () => purge({ typename: entity.typename, id: entity.id }, `${entity.typename} ${entity.id}`));
        span.append(button);
      }
      entities.append(span);
    }
    item.append(meta, entities);
    const feed = $('feed');
    feed.prepend(item);
    while (feed.children.length > FEED_MAX) feed.lastElementChild.remove();
    $('feed-empty').hidden = true;
  }

  // ---- purging ----

  async function purge(input, what) {
    const result = $('purge-result');
    result.className = '';
    result.textContent = `Purging ${what}…`;
    try {
      const { purgeCache } = await graphql(PURGE, { input });
      const error = purgeCache.errors[0];
      result.className = error ? 'error' : '';
      result.textContent = error ? `${what}: ${error.message}` : `Purged ${what}: ${purgeCache.purged} keys or tags invalidated.`;
    } catch (error) {
      result.className = 'error';
      result.textContent = `${what}: ${error.message}`;
    }
  }

  $('purge-all').addEventListener('click', () => {
    if (window.confirm('Purge every cached entity and response of this deployment? Every instance reloads from PostgreSQL.')) {
      purge({ all: true }, 'everything');
    }
  });
})();

/**
 * The admin console's web page (built by scripts/build-admin-ui.mjs into dist/admin-ui/app.js): a
 * login form, then live sessions (Server-Sent Events from /api/events), a chart of the last hour, bans,
 * users (with a user database: add, edit, disable, remove) and the server's status. Every request that
 * changes something sends X-Requested-With.
 */

interface Transfer { direction: 'upload' | 'download'; path: string | null; bytes: number; rate: number; expectedSize: number | null }
interface SessionRow { id: string; user: string | null; peer: string; since: string; tls: { control: boolean; dataProtection: string; implicit: boolean }; cwd: string; transfer: Transfer | null; worker?: number; node?: string }
interface Ban { address: string; until: string }
interface Point { t: number; sessions: number; bytesPerSecond: number }

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { 'x-requested-with': 'ftpsd-admin' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  if (res.status === 401 && path !== '/api/login') {
    showLogin();
    throw new Error('log in first');
  }
  if (!res.ok) {
    const problem = (await res.json().catch(() => ({}))) as { detail?: string; title?: string };
    throw new Error(problem.detail ?? problem.title ?? `HTTP ${res.status}`);
  }
  return (res.status === 204 ? undefined : await res.json()) as T;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, attrs: Record<string, string> = {}): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function message(text: string, error = false): void {
  const m = $('message');
  m.textContent = text;
  m.className = error ? 'error' : '';
}

let events: EventSource | undefined;

function showLogin(): void {
  events?.close();
  events = undefined;
  $('app').hidden = true;
  $('logout').hidden = true;
  $('who').textContent = '';
  $('login').hidden = false;
  $<HTMLInputElement>('login-name').focus();
}

async function showApp(name: string): Promise<void> {
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  $('who').textContent = name;
  events?.close();
  events = new EventSource('/api/events');
  events.addEventListener('sessions', (e) => renderSessions(JSON.parse((e as MessageEvent<string>).data) as SessionRow[]));
  events.addEventListener('bans', (e) => renderBans(JSON.parse((e as MessageEvent<string>).data) as Ban[]));
  events.addEventListener('point', (e) => {
    chartPoints.push(JSON.parse((e as MessageEvent<string>).data) as Point);
    renderChart();
  });
  // The status says whether users are editable here: read before the users.
  await refreshStatus();
  await Promise.all([refreshBans(), refreshUsers()]);
}

function renderSessions(list: SessionRow[]): void {
  const body = $('sessions').querySelector('tbody')!;
  $('session-count').textContent = `(${list.length})`;
  $('no-sessions').hidden = list.length > 0;
  // Rows are kept by id, so focus on a button survives an update.
  const seen = new Set<string>();
  for (const s of list) {
    seen.add(s.id);
    let row = body.querySelector<HTMLTableRowElement>(`tr[data-id="${CSS.escape(s.id)}"]`);
    if (!row) {
      row = el('tr', undefined, { 'data-id': s.id });
      for (let i = 0; i < 6; i++) row.append(el('td'));
      const button = el('button', 'Disconnect', { class: 'danger', 'aria-label': `Disconnect session ${s.id}` });
      button.addEventListener('click', () => void disconnect(s.id, button));
      const td = el('td');
      td.append(button);
      row.append(td);
      body.append(row);
    }
    const cells = row.cells;
    cells[0]!.textContent = s.user ?? '(not logged in)';
    cells[1]!.textContent = s.node ? `${s.peer} (node ${s.node})` : s.worker === undefined ? s.peer : `${s.peer} (worker ${s.worker})`;
    cells[2]!.textContent = new Date(s.since).toLocaleTimeString();
    cells[3]!.textContent = s.tls.control ? `TLS${s.tls.implicit ? ' (implicit)' : ''}, data ${s.tls.dataProtection}` : 'none';
    cells[4]!.textContent = s.cwd;
    const t = s.transfer;
    const cell = cells[5]!;
    cell.textContent = '';
    if (t) {
      const bar = el('progress', undefined, { 'aria-label': `${t.direction} progress` });
      if (t.expectedSize) {
        bar.max = t.expectedSize;
        bar.value = t.bytes;
      }
      cell.append(bar, el('span', ` ${t.direction === 'upload' ? '↑' : '↓'} ${t.path ?? 'listing'} ${bytes(t.bytes)} (${bytes(t.rate)}/s)`, { class: 'transfer-bytes', 'data-bytes': String(t.bytes) }));
    } else {
      cell.textContent = 'idle';
    }
  }
  for (const row of [...body.rows]) if (!seen.has(row.dataset.id ?? '')) row.remove();
}

async function disconnect(id: string, button: HTMLButtonElement): Promise<void> {
  button.disabled = true;
  try {
    await api('DELETE', `/api/sessions/${encodeURIComponent(id)}`);
    message(`Session ${id} disconnected.`);
  } catch (err) {
    button.disabled = false;
    message(`Disconnect failed: ${(err as Error).message}`, true);
  }
}

function renderBans(list: Ban[]): void {
  const ul = $('bans');
  ul.textContent = '';
  if (list.length === 0) ul.append(el('li', 'No bans.'));
  for (const b of list) {
    const li = el('li', `${b.address} until ${new Date(b.until).toLocaleString()} `, { 'data-address': b.address });
    const lift = el('button', 'Lift', { 'aria-label': `Lift the ban of ${b.address}` });
    lift.addEventListener('click', async () => {
      try {
        await api('DELETE', `/api/bans/${encodeURIComponent(b.address)}`);
        message(`Ban of ${b.address} lifted.`);
        await refreshBans();
      } catch (err) {
        message(`Lift failed: ${(err as Error).message}`, true);
      }
    });
    li.append(lift);
    ul.append(li);
  }
}

async function refreshBans(): Promise<void> {
  renderBans(await api<Ban[]>('GET', '/api/bans'));
}

interface UserRow {
  name: string; source?: 'config' | 'database'; home: string | null; readOnly: boolean; sessions: number;
  enabled?: boolean; quotaBytes?: number | null; allowedNetworks?: string[] | null;
}

/** The server says users can be changed here (a user database is configured). */
let usersEditable = false;
/** The user the form edits (undefined: the form adds one). */
let editing: UserRow | undefined;

async function refreshUsers(): Promise<void> {
  const users = await api<UserRow[]>('GET', '/api/users');
  $('users').hidden = usersEditable;
  $('users-editor').hidden = !usersEditable;
  if (usersEditable) return renderUserTable(users);
  const ul = $('users');
  ul.textContent = '';
  for (const u of users) ul.append(el('li', `${u.name}${u.readOnly ? ' (read-only)' : ''}: ${u.home}, ${u.sessions} session(s)`));
  if (users.length === 0) ul.append(el('li', 'No configured users.'));
}

function renderUserTable(users: UserRow[]): void {
  const body = $('user-table').querySelector('tbody')!;
  body.textContent = '';
  for (const u of users) {
    const row = el('tr', undefined, { 'data-user': u.name, ...(u.enabled === false ? { class: 'disabled' } : {}) });
    const quota = u.quotaBytes === null || u.quotaBytes === undefined ? '-' : bytes(u.quotaBytes);
    for (const text of [u.name, u.source ?? 'config', u.readOnly ? 'read-only' : 'read-write', u.enabled === false ? 'disabled' : 'enabled', quota, u.home ?? `(root)/${u.name}`, String(u.sessions)]) row.append(el('td', text));
    const td = el('td');
    if (u.source === 'database') {
      const actions = el('div', undefined, { class: 'actions' });
      const edit = el('button', 'Edit', { type: 'button', 'aria-label': `Edit user ${u.name}` });
      edit.addEventListener('click', () => openUserForm(u));
      const toggle = el('button', u.enabled === false ? 'Enable' : 'Disable', { type: 'button', 'aria-label': `${u.enabled === false ? 'Enable' : 'Disable'} user ${u.name}` });
      toggle.addEventListener('click', () => void changeUser(u.name, { enabled: u.enabled === false }, u.enabled === false ? 'enabled' : 'disabled; its sessions end'));
      const remove = el('button', 'Remove', { type: 'button', class: 'danger', 'aria-label': `Remove user ${u.name}` });
      remove.addEventListener('click', () => void removeUser(u.name));
      actions.append(edit, toggle, remove);
      td.append(actions);
    } else {
      td.textContent = 'config file';
    }
    row.append(td);
    body.append(row);
  }
}

function openUserForm(user?: UserRow): void {
  editing = user;
  $('user-form-title').textContent = user ? `Edit user ${user.name}` : 'Add user';
  const name = $<HTMLInputElement>('user-name');
  name.value = user?.name ?? '';
  name.readOnly = user !== undefined;
  $<HTMLInputElement>('user-password').value = '';
  $<HTMLInputElement>('user-password').placeholder = user ? 'empty: unchanged' : 'empty: generate one';
  $<HTMLInputElement>('user-home').value = user?.home ?? '';
  $<HTMLInputElement>('user-quota').value = user?.quotaBytes === null || user?.quotaBytes === undefined ? '' : String(user.quotaBytes);
  $<HTMLInputElement>('user-networks').value = (user?.allowedNetworks ?? []).join(', ');
  $<HTMLInputElement>('user-readonly').checked = user?.readOnly ?? false;
  $<HTMLInputElement>('user-enabled').checked = user?.enabled ?? true;
  $('user-form').hidden = false;
  (user ? $<HTMLInputElement>('user-password') : name).focus();
}

function closeUserForm(): void {
  $('user-form').hidden = true;
  editing = undefined;
  $('user-add').focus();
}

async function changeUser(name: string, changes: Record<string, unknown>, what: string): Promise<void> {
  try {
    await api('PATCH', `/api/users/${encodeURIComponent(name)}`, changes);
    message(`User ${name} ${what}.`);
    await refreshUsers();
  } catch (err) {
    message(`Change failed: ${(err as Error).message}`, true);
  }
}

async function removeUser(name: string): Promise<void> {
  if (!confirm(`Remove user ${name}? Their sessions end; their files stay.`)) return;
  try {
    await api('DELETE', `/api/users/${encodeURIComponent(name)}`);
    message(`User ${name} removed.`);
    await refreshUsers();
  } catch (err) {
    message(`Remove failed: ${(err as Error).message}`, true);
  }
}

$('user-add').addEventListener('click', () => openUserForm());
$('user-cancel').addEventListener('click', () => closeUserForm());
$('user-form').addEventListener('keydown', (e) => {
  if (e.key === 'Escape') closeUserForm();
});
$('user-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const value = (id: string) => $<HTMLInputElement>(id).value.trim();
  const quota = value('user-quota');
  const networks = value('user-networks').split(',').map((n) => n.trim()).filter((n) => n !== '');
  const body: Record<string, unknown> = {
    home: value('user-home') || null,
    quotaBytes: quota === '' ? null : Number(quota),
    allowedNetworks: networks.length ? networks : null,
    readOnly: $<HTMLInputElement>('user-readonly').checked,
    enabled: $<HTMLInputElement>('user-enabled').checked,
  };
  const password = $<HTMLInputElement>('user-password').value;
  if (password !== '') body.password = password;
  try {
    if (editing) {
      await api('PATCH', `/api/users/${encodeURIComponent(editing.name)}`, body);
      message(`User ${editing.name} changed.`);
    } else {
      const name = value('user-name');
      const created = await api<{ password?: string }>('POST', '/api/users', { name, ...body });
      message(created.password ? `User ${name} added. Its generated password, shown only now: ${created.password}` : `User ${name} added.`);
    }
    $<HTMLInputElement>('user-password').value = '';
    closeUserForm();
    await refreshUsers();
  } catch (err) {
    message(`Save failed: ${(err as Error).message}`, true);
  }
});

let chartPoints: Point[] = [];

async function refreshStatus(): Promise<void> {
  const s = await api<{
    version: string; uptimeSeconds: number; listeners: { explicit: string[]; implicit: string[] };
    workerList: { worker: number; pid: number | null; state: string; sessions: number }[];
    certificate: { names: string[]; fingerprint256: string; validTo: string; source: string }; history: Point[];
    usersEditable?: boolean;
  }>('GET', '/api/status');
  usersEditable = s.usersEditable === true;
  const dl = $('status');
  dl.textContent = '';
  const days = Math.floor((new Date(s.certificate.validTo).getTime() - Date.now()) / 86_400_000);
  const rows: [string, string, string?][] = [
    ['Version', s.version],
    ['Uptime', `${Math.floor(s.uptimeSeconds / 60)} min`],
    ['Workers', s.workerList.length > 1 ? s.workerList.map((w) => `${w.worker}: ${w.state}, ${w.sessions} sessions`).join('; ') : '1 (a single process)'],
    ['Listeners', [...s.listeners.explicit.map((a) => `${a} (explicit)`), ...s.listeners.implicit.map((a) => `${a} (implicit)`)].join(', ')],
    ['Certificate', `${s.certificate.names.join(', ') || '(no names)'} (${s.certificate.source})`],
    ['Expires', `${new Date(s.certificate.validTo).toLocaleDateString()} (in ${days} days)`, days < 21 ? 'warn' : undefined],
    ['Fingerprint', s.certificate.fingerprint256],
  ];
  for (const [k, v, cls] of rows) dl.append(el('dt', k), el('dd', v, cls ? { class: cls } : {}));
  chartPoints = s.history;
  renderChart();
}

function renderChart(): void {
  const svg = $('chart');
  const now = Date.now();
  const points = chartPoints.filter((p) => p.t > now - 3_600_000);
  $('chart-empty').hidden = points.length > 0;
  const maxRate = Math.max(1, ...points.map((p) => p.bytesPerSecond));
  const maxSessions = Math.max(1, ...points.map((p) => p.sessions));
  const x = (t: number) => ((t - (now - 3_600_000)) / 3_600_000) * 600;
  const line = (f: (p: Point) => number) => points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${(155 - f(p) * 145).toFixed(1)}`).join(' ');
  svg.innerHTML = '';
  const ns = 'http://www.w3.org/2000/svg';
  for (const [d, color] of [
    [line((p) => p.bytesPerSecond / maxRate), '#2563eb'],
    [line((p) => p.sessions / maxSessions), '#16a34a'],
  ] as const) {
    if (!d) continue;
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', d);
    path.setAttribute('fill', 'none');
    path.setAttribute('stroke', color);
    path.setAttribute('stroke-width', '2');
    svg.append(path);
  }
  $('chart-max').textContent = points.length ? `peak ${bytes(maxRate)}/s, ${maxSessions} session(s)` : '';
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const name = $<HTMLInputElement>('login-name').value;
  const password = $<HTMLInputElement>('login-password').value;
  try {
    await api('POST', '/api/login', { name, password });
    $<HTMLInputElement>('login-password').value = '';
    $('login-error').textContent = '';
    await showApp(name);
  } catch (err) {
    $('login-error').textContent = `Login refused: ${(err as Error).message}`;
  }
});

$('logout').addEventListener('click', async () => {
  await api('POST', '/api/logout').catch(() => undefined);
  showLogin();
});

$('ban-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>('ban-address');
  try {
    renderBans(await api<Ban[]>('POST', '/api/bans', { address: input.value.trim() }));
    message(`${input.value} banned.`);
    input.value = '';
  } catch (err) {
    message(`Ban failed: ${(err as Error).message}`, true);
  }
});

// Logged in already (the cookie is HttpOnly, so ask the server)?
fetch('/api/status', { credentials: 'same-origin' }).then(
  (res) => (res.ok ? showApp('') : showLogin()),
  () => showLogin(),
);
export {};

// A local server that speaks the Hugging Face routes kiln uses, serving
// files from memory, with faults injected on request. Not a mock of kiln:
// kiln talks to it over real HTTP through HF_ENDPOINT.
//
//   GET /api/models?search=&author=&limit=&sort=     search
//   GET /api/models/<org>/<repo>/tree/main            files with size and lfs oid
//   GET /<org>/<repo>/resolve/main/<path>             bytes, with Range
import http from 'node:http';
import crypto from 'node:crypto';

export const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/**
 * startHfServer() -> { url, addRepo(id, files, meta), faults, requests, settings, close(), otherHost }
 * files: { path: Buffer | { size, sha256 } } (the object form lists a file that is never served).
 * faults: Map path -> { dropAfter, corrupt, status, statusTimes, ignoreRange, redirect, gated, throttle }.
 */
export async function startHfServer() {
  const repos = new Map();
  const faults = new Map();
  const requests = [];  // { host, path, range, authorization }
  const settings = {};  // treePageSize

  // A second server on "localhost" (another authority than 127.0.0.1) that
  // redirects land on.
  const other = http.createServer((req, res) => handle(req, res, true));
  await new Promise((r) => other.listen(0, '127.0.0.1', r));
  const otherHost = `http://localhost:${other.address().port}`;

  const server = http.createServer((req, res) => handle(req, res, false));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;

  function json(res, status, body) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  function handle(req, res, onOther) {
    const u = new URL(req.url, 'http://x');
    requests.push({ host: onOther ? 'other' : 'main', path: decodeURIComponent(u.pathname),
      range: req.headers.range ?? null, authorization: req.headers.authorization ?? null });
    const parts = u.pathname.split('/').slice(1).map(decodeURIComponent);
    if (parts[0] === 'api' && parts[1] === 'models' && parts.length === 2) return search(u, res);
    if (parts[0] === 'api' && parts[1] === 'models' && parts[4] === 'tree') return tree(parts[2] + '/' + parts[3], u, res);
    if (parts[2] === 'resolve' && parts[3] === 'main') {
      return resolve(parts[0] + '/' + parts[1], parts.slice(4).join('/'), req, res, onOther);
    }
    json(res, 404, { error: 'Not Found' });
  }

  function search(u, res) {
    const q = (u.searchParams.get('search') ?? '').toLowerCase();
    const author = u.searchParams.get('author');
    const limit = Number(u.searchParams.get('limit') ?? 20);
    const sort = u.searchParams.get('sort') ?? 'downloads';
    let hits = [...repos.values()].filter((r) => r.id.toLowerCase().includes(q) &&
      (!author || r.id.startsWith(author + '/')));
    const key = sort === 'likes' ? 'likes' : sort === 'lastModified' ? 'lastModified' : 'downloads';
    hits.sort((a, b) => (a.meta[key] < b.meta[key] ? 1 : -1));
    json(res, 200, hits.slice(0, limit).map((r) => ({ id: r.id, modelId: r.id, ...r.meta })));
  }

  // Pages of settings.treePageSize entries (Hugging Face pages large
  // repositories), each naming the next in a Link header.
  function tree(id, u, res) {
    const repo = repos.get(id);
    if (!repo) return json(res, 401, { error: 'Repository not found' });
    const all = Object.entries(repo.files).map(([path, f]) => {
      const size = Buffer.isBuffer(f) ? f.length : f.size;
      const oid = Buffer.isBuffer(f) ? sha256(f) : f.sha256;
      return { type: 'file', path, size, oid: oid.slice(0, 40), lfs: { oid, size, pointerSize: 134 } };
    });
    const size = settings.treePageSize ?? all.length;
    const from = Number(u.searchParams.get('cursor') ?? 0);
    if (from + size < all.length) {
      res.setHeader('link', `<${url}/api/models/${id}/tree/main?recursive=true&cursor=${from + size}>; rel="next"`);
    }
    json(res, 200, all.slice(from, from + size));
  }

  function resolve(id, path, req, res, onOther) {
    const repo = repos.get(id);
    const file = repo?.files[path];
    if (!file || !Buffer.isBuffer(file)) return json(res, 404, { error: 'Entry not found' });
    const f = faults.get(path) ?? {};
    if (f.gated && req.headers.authorization !== `Bearer ${f.gated}`) {
      return json(res, 403, { error: 'Access to this model is restricted' });
    }
    if (f.status && (f.statusTimes ?? Infinity) > 0) {
      f.statusTimes = (f.statusTimes ?? Infinity) - 1;
      res.writeHead(f.status, { 'retry-after': '0', 'content-type': 'text/plain' });
      return res.end('try again');
    }
    if (f.redirect && !onOther) {
      res.writeHead(302, { location: `${otherHost}/${id}/resolve/main/${path}` });
      return res.end();
    }
    let body = file;
    if (f.corrupt) {
      body = Buffer.from(file);
      body[Math.floor(body.length / 2)] ^= 0xff;
    }
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && !f.ignoreRange) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` });
        return res.end();
      }
      res.writeHead(206, { 'content-length': body.length - start,
        'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
    } else {
      res.writeHead(200, { 'content-length': body.length });
    }
    const rest = body.subarray(start);
    if (f.dropAfter !== undefined && (f.dropTimes ?? Infinity) > 0) {
      // Send up to byte dropAfter of the file, then cut the connection.
      f.dropTimes = (f.dropTimes ?? Infinity) - 1;
      const n = Math.max(0, f.dropAfter - start);
      res.write(rest.subarray(0, n), () => res.socket.destroy());
      return;
    }
    if (f.throttle) {
      // Small chunks, slowly: lets a test kill the client mid-file.
      let off = 0;
      const tick = () => {
        if (res.destroyed) return;
        if (off >= rest.length) return res.end();
        res.write(rest.subarray(off, off + f.throttle));
        off += f.throttle;
        setTimeout(tick, 20);
      };
      return tick();
    }
    res.end(rest);
  }

  return {
    url,
    otherHost,
    faults,
    requests,
    settings,
    addRepo(id, files, meta = {}) {
      repos.set(id, { id, files, meta: { downloads: 0, likes: 0, pipeline_tag: 'text-generation',
        lastModified: '2026-01-01T00:00:00.000Z', ...meta } });
    },
    close() {
      server.closeAllConnections?.();
      other.closeAllConnections?.();
      return Promise.all([new Promise((r) => server.close(r)), new Promise((r) => other.close(r))]);
    },
  };
}

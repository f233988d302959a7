// LTI Proctoring Services end to end, in Chromium: a learning platform on
// loopback (its own RSA key and JWKS, an OIDC authorisation endpoint that
// signs id_tokens, a start-assessment receiver that verifies what vigil
// sends, and the quiz itself) sends a learner to vigil with
// LtiStartProctoring; the built student page runs its checks, publishes the
// camera, and hands the attempt back with LtiStartAssessment, which the
// platform verifies against vigil's published key before it shows the quiz
// inside the student page's exam frame. Before that, an instructor's launch
// makes the exam and opens the dashboard, where the course's learner is
// already listed (Names and Role Provisioning through the platform's token
// endpoint, which verifies vigil's signed assertion). Working in the quiz
// raises nothing; leaving the tab still does, and the instructor's tile
// shows it. Then the platform ends the attempt
// (LtiEndAssessment) and the open student page stops proctoring.
//
// The platform is written here from the specifications (LTI 1.3 Core,
// Security Framework, Proctoring Services 1.0) with node:crypto, so it
// shares no JWT code with vigil (Rust, jsonwebtoken).

import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { createServer } from 'node:http';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';

import { VigilServer, until } from '../lib/server.mjs';
import { launch } from '../lib/browser.mjs';
import { launchWithCamera } from '../../student/test/helpers/student-page.mjs';
import { oneFaceVideo } from '../../student/test/helpers/media.mjs';
import { testWebDir } from '../../student/test/helpers/vigil-server.mjs';
import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const studentDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../student');
const ISSUER = 'https://lms.e2e.test';
const CLIENT_ID = 'vigil-e2e-tool';
const DEPLOYMENT = 'deployment-e2e';
const LEARNER = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner';
const INSTRUCTOR = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor';
const NRPS_SCOPE = 'https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly';
const NRPS_MEDIA_TYPE = 'application/vnd.ims.lti-nrps.v2.membershipcontainer+json';
const NRPS_TOKEN = `nrps-${randomBytes(8).toString('hex')}`;
const C = {
  messageType: 'https://purl.imsglobal.org/spec/lti/claim/message_type',
  version: 'https://purl.imsglobal.org/spec/lti/claim/version',
  deployment: 'https://purl.imsglobal.org/spec/lti/claim/deployment_id',
  target: 'https://purl.imsglobal.org/spec/lti/claim/target_link_uri',
  resourceLink: 'https://purl.imsglobal.org/spec/lti/claim/resource_link',
  context: 'https://purl.imsglobal.org/spec/lti/claim/context',
  roles: 'https://purl.imsglobal.org/spec/lti/claim/roles',
  attempt: 'https://purl.imsglobal.org/spec/lti-ap/claim/attempt_number',
  startUrl: 'https://purl.imsglobal.org/spec/lti-ap/claim/start_assessment_url',
  sessionData: 'https://purl.imsglobal.org/spec/lti-ap/claim/session_data',
  endReturn: 'https://purl.imsglobal.org/spec/lti-ap/claim/end_assessment_return',
  namesRoles: 'https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice',
};

const b64url = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** The learning platform. */
class Platform {
  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.kid = `platform-${randomBytes(4).toString('hex')}`;
    this.jwk = { ...publicKey.export({ format: 'jwk' }), kid: this.kid, alg: 'RS256', use: 'sig' };
    /** Verified LtiStartAssessment claims, in arrival order. */
    this.startAssessments = [];
    /** What went wrong on the platform's side, for the assertion message. */
    this.problems = [];
    this.sessionData = `csrf-${randomBytes(8).toString('hex')}`;
    /** Membership pages served (Names and Role Provisioning). */
    this.membershipReads = 0;
  }

  async start() {
    this.server = createServer((req, res) => this.handle(req, res).catch((e) => {
      this.problems.push(String(e));
      res.writeHead(500).end(String(e));
    }));
    await new Promise((r) => this.server.listen(0, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${this.server.address().port}`;
  }

  stop() {
    this.server?.close();
  }

  signJwt(claims) {
    const head = `${b64url({ alg: 'RS256', typ: 'JWT', kid: this.kid })}.${b64url(claims)}`;
    return `${head}.${sign('RSA-SHA256', Buffer.from(head), this.privateKey).toString('base64url')}`;
  }

  /** Where a browser starts: the LMS sends it to vigil's login, for `messageHint` as `loginHint`. */
  loginUrl(messageHint, loginHint = 'learner-7') {
    const q = new URLSearchParams({
      iss: ISSUER,
      login_hint: loginHint,
      target_link_uri: `${this.vigil}/lti/launch`,
      client_id: CLIENT_ID,
      lti_deployment_id: DEPLOYMENT,
      lti_message_hint: messageHint,
    });
    return `${this.vigil}/lti/login?${q}`;
  }

  async handle(req, res) {
    const url = new URL(req.url, this.base);
    if (url.pathname === '/jwks') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [this.jwk] }));
    } else if (url.pathname === '/auth') {
      this.authorize(url.searchParams, res);
    } else if (url.pathname === '/assessments/7/start' && req.method === 'POST') {
      await this.startAssessment(req, res);
    } else if (url.pathname === '/token' && req.method === 'POST') {
      await this.token(req, res);
    } else if (url.pathname === '/memberships') {
      this.memberships(req, res);
    } else {
      res.writeHead(404).end('not here');
    }
  }

  /** The OIDC authorisation endpoint: an id_token for the hinted message, form-posted back. */
  authorize(q, res) {
    const expect = { scope: 'openid', response_type: 'id_token', response_mode: 'form_post', prompt: 'none', client_id: CLIENT_ID };
    for (const [k, v] of Object.entries(expect)) {
      if (q.get(k) !== v) this.problems.push(`auth: ${k}=${q.get(k)}`);
    }
    const now = Math.floor(Date.now() / 1000);
    const hint = q.get('lti_message_hint');
    const start = hint === 'start';
    const instructor = hint === 'instructor';
    const claims = {
      iss: ISSUER,
      aud: CLIENT_ID,
      sub: q.get('login_hint'),
      iat: now,
      exp: now + 300,
      nonce: q.get('nonce'),
      name: instructor ? 'Grace Hopper' : 'Ada Lovelace',
      [C.version]: '1.3.0',
      [C.messageType]: instructor ? 'LtiResourceLinkRequest' : start ? 'LtiStartProctoring' : 'LtiEndAssessment',
      [C.deployment]: DEPLOYMENT,
      [C.target]: `${this.vigil}/lti/launch`,
      [C.resourceLink]: { id: 'quiz-7', title: 'Quiz 7' },
      [C.context]: { id: 'course-e2e', title: 'Analytical Engines' },
      [C.roles]: [instructor ? INSTRUCTOR : LEARNER],
    };
    if (instructor) {
      claims[C.namesRoles] = { context_memberships_url: `${this.base}/memberships`, service_versions: ['2.0'] };
    } else {
      claims[C.attempt] = 1;
    }
    if (start) {
      claims[C.startUrl] = `${this.base}/assessments/7/start`;
      claims[C.sessionData] = this.sessionData;
    }
    const action = q.get('redirect_uri');
    const html = `<!doctype html><form id=f method=post action="${action}">
      <input type=hidden name=id_token value="${this.signJwt(claims)}">
      <input type=hidden name=state value="${q.get('state')}"></form>
      <script>document.getElementById('f').submit()</script>`;
    res.writeHead(200, { 'content-type': 'text/html' }).end(html);
  }

  /** Verifies a JWT vigil signed, with the key it publishes; its claims, or null. */
  async verifiedFromVigil(jwt) {
    const [head, payload, signature] = jwt.split('.');
    const header = JSON.parse(Buffer.from(head, 'base64url'));
    const jwks = await (await fetch(`${this.vigil}/lti/jwks`)).json();
    const jwk = jwks.keys.find((k) => k.kid === header.kid);
    const signed = jwk && header.alg === 'RS256'
      && verify('RSA-SHA256', Buffer.from(`${head}.${payload}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(signature, 'base64url'));
    return signed ? JSON.parse(Buffer.from(payload, 'base64url')) : null;
  }

  /** The token endpoint (Security Framework §4.1): client credentials with vigil's signed assertion. */
  async token(req, res) {
    let body = '';
    for await (const chunk of req) body += chunk;
    const form = new URLSearchParams(body);
    const assertion = await this.verifiedFromVigil(form.get('client_assertion') ?? '');
    const problem =
      form.get('grant_type') !== 'client_credentials' ? `grant_type ${form.get('grant_type')}`
      : form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' ? 'client_assertion_type'
      : !assertion ? 'assertion not signed by vigil'
      : assertion.iss !== CLIENT_ID || assertion.sub !== CLIENT_ID ? `assertion iss/sub ${assertion.iss}/${assertion.sub}`
      : form.get('scope') !== NRPS_SCOPE ? `scope ${form.get('scope')}`
      : null;
    if (problem) {
      this.problems.push(`token: ${problem}`);
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_request' }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ access_token: NRPS_TOKEN, token_type: 'Bearer', expires_in: 3600, scope: NRPS_SCOPE }));
  }

  /** The course's members (NRPS 2.0): the learner and the instructor. */
  memberships(req, res) {
    if (req.headers.authorization !== `Bearer ${NRPS_TOKEN}` || req.headers.accept !== NRPS_MEDIA_TYPE) {
      this.problems.push(`memberships: ${req.headers.authorization} ${req.headers.accept}`);
      res.writeHead(401).end();
      return;
    }
    this.membershipReads += 1;
    const members = [
      { status: 'Active', user_id: 'learner-7', name: 'Ada Lovelace', roles: [LEARNER] },
      { status: 'Active', user_id: 'teacher-1', name: 'Grace Hopper', roles: [INSTRUCTOR] },
    ];
    res.writeHead(200, { 'content-type': NRPS_MEDIA_TYPE })
      .end(JSON.stringify({ id: `${this.base}/memberships`, context: { id: 'course-e2e' }, members }));
  }

  /** Receives LtiStartAssessment: verified with vigil's published key before the quiz is shown. */
  async startAssessment(req, res) {
    let body = '';
    for await (const chunk of req) body += chunk;
    const jwt = new URLSearchParams(body).get('JWT') ?? '';
    const [head, payload, signature] = jwt.split('.');
    const header = JSON.parse(Buffer.from(head, 'base64url'));
    const claims = JSON.parse(Buffer.from(payload, 'base64url'));
    const jwks = await (await fetch(`${this.vigil}/lti/jwks`)).json();
    const jwk = jwks.keys.find((k) => k.kid === header.kid);
    const signed = jwk && header.alg === 'RS256'
      && verify('RSA-SHA256', Buffer.from(`${head}.${payload}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(signature, 'base64url'));
    if (!signed) {
      this.problems.push(`LtiStartAssessment not signed by vigil's published key: ${JSON.stringify(header)}`);
      res.writeHead(401).end('bad signature');
      return;
    }
    this.startAssessments.push(claims);
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>Quiz 7</title>
      <h1>Quiz 7</h1><label for=answer>Your answer</label><textarea id=answer></textarea>`);
  }
}

let platform;
let server;
let servedWebDir;
const browsers = [];

before(async () => {
  execFileSync(process.execPath, [join(studentDir, 'scripts/ensure-models.mjs')], { cwd: studentDir, stdio: 'inherit' });
  execFileSync(process.execPath, [join(studentDir, 'scripts/ensure-built.mjs')], { cwd: studentDir, stdio: 'inherit' });
  platform = new Platform();
  await platform.start();
  servedWebDir = testWebDir();
  // The platform's origin may be framed by the student page (its assessment).
  server = await VigilServer.start({ webDir: servedWebDir, extraArgs: ['--frame-ancestor', platform.base] });
  platform.vigil = server.url;
  const registered = await server.api('POST', '/lti/platforms', {
    body: {
      issuer: ISSUER,
      client_id: CLIENT_ID,
      deployment_ids: [DEPLOYMENT],
      auth_login_url: `${platform.base}/auth`,
      jwks_url: `${platform.base}/jwks`,
      token_url: `${platform.base}/token`,
    },
  });
  assert.equal(registered.status, 201, JSON.stringify(registered.data));
});

after(async () => {
  for (const b of browsers) await b.close().catch(() => {});
  await server?.stop();
  platform?.stop();
  if (servedWebDir) rmSync(servedWebDir, { recursive: true, force: true });
});

test('instructor launch → roster from the LMS → LtiStartProctoring → checks → LtiStartAssessment → the quiz in the exam frame → an incident on the tile → LtiEndAssessment', { timeout: 300_000 }, async () => {
  // The instructor opens vigil from the course: the exam is made, the
  // dashboard opens signed in, and the course's learner is on it already
  // (read from the platform with Names and Role Provisioning).
  const instructorBrowser = await launch();
  browsers.push(instructorBrowser);
  const dash = await instructorBrowser.context.newPage();
  const dashErrors = [];
  dash.on('pageerror', (e) => dashErrors.push(e.message));
  await dash.goto(platform.loginUrl('instructor', 'teacher-1'));
  await dash.waitForURL(/\/dashboard\/#token=/, { timeout: 30_000 });
  const tile = dash.locator('.tile', { hasText: 'Ada Lovelace' });
  await tile.waitFor({ timeout: 30_000 });
  assert.match(await tile.getAttribute('aria-label'), /Offline/);
  assert.equal(platform.membershipReads, 1);
  // An instructor's first visit to an exam with no assessment may open its
  // settings (if the roster arrived after the snapshot): not needed here.
  const settings = dash.getByRole('dialog', { name: 'Exam settings' });
  if (await settings.isVisible()) await settings.getByRole('button', { name: 'Close' }).click();

  const browser = await launchWithCamera(oneFaceVideo().file);
  browsers.push(browser);
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));

  // The learner opens the proctored quiz in the LMS: login, launch, landing.
  await page.goto(platform.loginUrl('start'));
  await page.waitForURL(/\/student\/#token=/, { timeout: 30_000 });
  const token = new URL(page.url()).hash.replace('#token=', '');

  // vigil's own checks before anything is handed back.
  await page.getByRole('heading', { name: 'System check' }).waitFor({ timeout: 30_000 });
  await page.waitForFunction(() => {
    const b = [...document.querySelectorAll('button')].find((x) => x.textContent === 'Continue');
    return b && !b.disabled;
  }, null, { timeout: 90_000 });
  assert.equal(platform.startAssessments.length, 0, 'nothing is handed back before the checks');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByLabel('I have read this and agree').check();
  await page.getByRole('button', { name: 'I agree, continue' }).click();
  await page.getByRole('button', { name: /Start the exam/ }).click();

  // The camera publishes, the page asks, the platform gets a message it can verify.
  const [claims] = await until(
    () => `LtiStartAssessment at the platform (its problems: ${JSON.stringify(platform.problems)})`,
    () => platform.startAssessments.length > 0 && platform.startAssessments,
    60_000,
  );
  assert.deepEqual(platform.problems, []);
  assert.equal(claims.iss, CLIENT_ID);
  assert.equal(claims.aud, ISSUER);
  assert.equal(claims[C.messageType], 'LtiStartAssessment');
  assert.equal(claims[C.version], '1.3.0');
  assert.equal(claims[C.deployment], DEPLOYMENT);
  assert.equal(claims[C.sessionData], platform.sessionData, 'session data echoed');
  assert.equal(claims[C.attempt], 1);
  assert.equal(claims[C.resourceLink].id, 'quiz-7');
  assert.equal(claims[C.endReturn], true);
  assert.ok(claims.exp > Date.now() / 1000 && claims.iat <= Date.now() / 1000 + 5, JSON.stringify(claims));
  assert.ok(typeof claims.nonce === 'string' && claims.nonce.length >= 16);

  // The quiz shows inside the student page, beside the proctoring status.
  const quiz = page.frameLocator('#vigil-assessment');
  await quiz.getByRole('heading', { name: 'Quiz 7' }).waitFor({ timeout: 30_000 });
  assert.equal(await page.evaluate(() => window.__vigil.phase()), 'exam');
  await page.locator('#status', { hasText: 'Video live' }).waitFor({ timeout: 30_000 });

  // Working in the quiz for longer than the window-blur debounce (2 s): the
  // click moves focus into the frame, and the window blurs (the old rule
  // raised window_blur here)...
  await quiz.getByLabel('Your answer').click();
  await quiz.getByLabel('Your answer').pressSequentially('Babbage designed it; Lovelace programmed it.', { delay: 80 });
  // ...then leaving the tab: its incident is proof that whatever the page
  // raised before it reached the server (the outbox sends in order).
  await page.evaluate(() => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  const raised = await until('tab_hidden raised by the page', async () => {
    const r = await page.evaluate(() => window.__vigil.metrics.raised.map((x) => x.kind));
    return r.includes('tab_hidden') && r;
  });
  assert.ok(!raised.includes('window_blur'), `working in the quiz raised window_blur: ${raised}`);
  // The instructor's dashboard shows it on the learner's tile, live.
  await tile.locator('.tile__incident', { hasText: 'Left the tab' }).waitFor({ timeout: 30_000 });
  assert.match(await tile.getAttribute('aria-label'), /Live/);
  await page.evaluate(() => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
    document.dispatchEvent(new Event('visibilitychange'));
  });

  // The platform ends the attempt: its own page says so, and the open
  // student page stops proctoring.
  const endPage = await browser.context.newPage();
  await endPage.goto(platform.loginUrl('end'));
  await endPage.getByRole('heading', { name: 'Your exam has ended' }).waitFor({ timeout: 30_000 });
  await page.waitForFunction(() => window.__vigil.phase() === 'ended', null, { timeout: 30_000 });
  await page.getByText('Your learning platform has ended this attempt').waitFor();
  const again = await fetch(`${server.url}/api/v1/lti/start-assessment`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  assert.equal(again.status, 409);
  assert.deepEqual(errors, []);
  assert.deepEqual(dashErrors, []);
  assert.deepEqual(platform.problems, []);
});

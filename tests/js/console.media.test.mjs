// The console's media decisions (console/media.js): pure, so they run in Node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  STICKER_PACKAGES, stickerIds, stickerImageUrl, formatFileSize, formatDuration, contentState,
  retryDelay, RETRY_DELAYS_MS, safeUrl, isSameOrigin, mediaPlan, shouldRefreshLinks, REFRESH_EVERY_MS,
  linksChanged,
} from '../../livechat_ext/static/console/media.js';

const PAGE = 'https://shop.example/live-chat/console/#c=U1';

test('file sizes read as people write them', () => {
  const cases = [
    [0, '0 B'], [1, '1 B'], [1023, '1023 B'], [1024, '1.0 KB'], [1536, '1.5 KB'], [10 * 1024, '10 KB'],
    [1234567, '1.2 MB'], [1048575, '1.0 MB'], [1024 ** 3 * 3.25, '3.3 GB'], [10239, '10 KB'],
  ];
  for (const [bytes, text] of cases) assert.equal(formatFileSize(bytes), text, String(bytes));
  for (const bad of [-1, NaN, Infinity, '12', null, undefined]) assert.equal(formatFileSize(bad), null, String(bad));
});

test('durations are m:ss, or h:mm:ss past an hour', () => {
  assert.equal(formatDuration(0), '0:00');
  assert.equal(formatDuration(7000), '0:07');
  assert.equal(formatDuration(65_400), '1:05');
  assert.equal(formatDuration(3_723_000), '1:02:03');
  assert.equal(formatDuration(-5), null);
  assert.equal(formatDuration('7000'), null);
});

test('what a content URL answers: 202 is not fetched yet, 410 unsent', () => {
  assert.equal(contentState(200), 'ready');
  assert.equal(contentState(206), 'ready');
  assert.equal(contentState(202), 'pending');
  assert.equal(contentState(410), 'gone');
  assert.equal(contentState(413), 'large');
  assert.equal(contentState(503), 'pending'); // LINE could not give this node its copy just now
  assert.equal(contentState(403), 'expired'); // past the link's lifetime: fresh links are wanted
  for (const status of [0, 401, 404, 500]) assert.equal(contentState(status), 'failed', String(status));
});

test('an expired link asks for fresh links, at most every so often', () => {
  assert.equal(shouldRefreshLinks(null, 1_000), true);
  assert.equal(shouldRefreshLinks(1_000, 1_000 + REFRESH_EVERY_MS - 1), false); // a revoked operator: no storm
  assert.equal(shouldRefreshLinks(1_000, 1_000 + REFRESH_EVERY_MS), true);
});

test('a message received again with fresh links replaces the stored one', () => {
  const old = { message_id: '42', content_url: '/m/42/content?exp=1&sig=a', preview_url: '/m/42/preview?exp=1&sig=a' };
  assert.equal(linksChanged(old, { ...old }), false);
  assert.equal(linksChanged(old, { ...old, content_url: '/m/42/content?exp=2&sig=b' }), true);
  assert.equal(linksChanged(old, { ...old, preview_url: '/m/42/preview?exp=2&sig=b' }), true);
  assert.equal(linksChanged({ text: 'hi' }, { text: 'hi' }), false);
  assert.equal(linksChanged(undefined, null), false);
});

test('a 202 is looked at again a few times, waiting longer each time, then left to the operator', () => {
  const waits = [];
  for (let attempt = 1; retryDelay(attempt) !== null; attempt += 1) waits.push(retryDelay(attempt));
  assert.deepEqual(waits, [...RETRY_DELAYS_MS]);
  assert.ok(waits.length >= 3 && waits.length <= 8, 'a few times');
  assert.ok(waits.every((w, i) => i === 0 || w > waits[i - 1]), 'backing off');
  assert.equal(retryDelay(0), null);
  assert.equal(retryDelay(1.5), null);
});

test('only http(s) of the page or https elsewhere may become a src or href', () => {
  assert.equal(safeUrl('/live-chat/media/m1?sig=x', PAGE), 'https://shop.example/live-chat/media/m1?sig=x');
  assert.equal(safeUrl('https://cdn.example/a.jpg', PAGE), 'https://cdn.example/a.jpg');
  for (const bad of ['javascript:alert(1)', 'data:image/png;base64,AAAA', 'blob:https://shop.example/x',
    'http://elsewhere.example/a.jpg', '', null, 42]) {
    assert.equal(safeUrl(bad, PAGE), null, String(bad));
  }
  const local = 'http://127.0.0.1:8000/live-chat/console/';
  assert.equal(safeUrl('/live-chat/media/m1', local), 'http://127.0.0.1:8000/live-chat/media/m1');
  assert.equal(isSameOrigin('/x', PAGE), true);
  assert.equal(isSameOrigin('https://cdn.example/x', PAGE), false);
});

test('a photo shows its preview inline, falling back to the content; the larger view gets the content', () => {
  const withPreview = mediaPlan('image', { content_url: '/m/1', preview_url: '/m/1/preview' }, PAGE);
  assert.equal(withPreview.src, 'https://shop.example/m/1');
  assert.equal(withPreview.preview, 'https://shop.example/m/1/preview');
  assert.equal(withPreview.probe, true);
  assert.equal(withPreview.title, 'Photo');
  const without = mediaPlan('image', { content_url: '/m/2' }, PAGE);
  assert.equal(without.preview, 'https://shop.example/m/2');
});

test('files carry name, human size and a download name; video and audio their duration', () => {
  const file = mediaPlan('file', { content_url: '/m/3', file_name: 'report Q3.pdf', file_size: 1234567 }, PAGE);
  assert.deepEqual([file.title, file.size, file.fileName], ['report Q3.pdf', '1.2 MB', 'report Q3.pdf']);
  const nameless = mediaPlan('file', { content_url: '/m/4', message_id: '4711' }, PAGE);
  assert.deepEqual([nameless.title, nameless.size, nameless.fileName], ['File', null, 'file-4711']);
  const video = mediaPlan('video', { content_url: '/m/5', preview_url: '/m/5/p', duration: 65000 }, PAGE);
  assert.deepEqual([video.preview, video.duration], ['https://shop.example/m/5/p', '1:05']);
  const audio = mediaPlan('audio', { content_url: '/m/6', duration: 7000 }, PAGE);
  assert.deepEqual([audio.preview, audio.duration, audio.title], [null, '0:07', 'Voice message']);
});

test('no usable content URL keeps the label card: older messages, unsent ones, unsafe URLs, other kinds', () => {
  assert.equal(mediaPlan('image', { message_id: '1' }, PAGE), null);
  assert.equal(mediaPlan('image', { unsent: true, content_url: '/m/1' }, PAGE), null);
  assert.equal(mediaPlan('file', { content_url: 'javascript:alert(1)', file_name: 'x' }, PAGE), null);
  assert.equal(mediaPlan('sticker', { content_url: '/m/1' }, PAGE), null);
  assert.equal(mediaPlan('image', null, PAGE), null);
});

test('external content uses the provider URLs and is never fetched by the page (CSP connect-src)', () => {
  const data = {
    content_provider: { type: 'external', originalContentUrl: 'https://img.example/o.jpg', previewImageUrl: 'https://img.example/p.jpg' },
  };
  const plan = mediaPlan('image', data, PAGE);
  assert.deepEqual([plan.src, plan.preview, plan.probe], ['https://img.example/o.jpg', 'https://img.example/p.jpg', false]);
  // the plugin's own URL wins when the server gives one
  const own = mediaPlan('image', { ...data, content_url: '/m/9' }, PAGE);
  assert.deepEqual([own.src, own.probe], ['https://shop.example/m/9', true]);
  // a LINE-hosted message without a content URL has nothing to show
  assert.equal(mediaPlan('image', { content_provider: { type: 'line' } }, PAGE), null);
});

test('the picker offers LINE\'s free packages, forty stickers each, as images on LINE\'s CDN', () => {
  assert.deepEqual(STICKER_PACKAGES.map((p) => p.id), ['446', '789', '11537']);
  const moon = stickerIds(STICKER_PACKAGES[0]);
  assert.equal(moon.length, 40);
  assert.deepEqual([moon[0], moon.at(-1)], ['1988', '2027']);
  assert.deepEqual(stickerIds(STICKER_PACKAGES[2]).slice(0, 2), ['52002734', '52002735']);
  for (const pack of STICKER_PACKAGES) assert.equal(stickerIds(pack).length, 40, pack.id);
  assert.equal(stickerImageUrl('1990'), 'https://stickershop.line-scdn.net/stickershop/v1/sticker/1990/android/sticker.png');
});

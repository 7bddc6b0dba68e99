/**
 * The embedding cache stays under its byte bound however many images pass through it (500 SAM-sized
 * embeddings, 4 MiB each, through a 32 MiB bound), evicts the least recently used first, counts
 * what was encoded ahead until it is used, and never keeps an entry larger than the bound.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EmbeddingCache } from '../../../../native-models/assist/embedding-cache';

const SAM_EMBEDDING = 256 * 64 * 64; // floats: 4 MiB

test('500 images through a 32 MiB cache: never above the bound, least recently used out first', () => {
  const bound = 32 * 1024 * 1024;
  const cache = new EmbeddingCache(bound);
  let evicted = 0;
  let maxBytes = 0;
  // A plain list as the reference order: least recently used first.
  const order: string[] = [];
  for (let i = 0; i < 500; i++) {
    const key = `img-${i}`;
    const out = cache.set(key, { data: new Float32Array(SAM_EMBEDDING), width: 640, height: 480, prefetched: false });
    order.push(key);
    const expected = order.length > 8 ? order.splice(0, order.length - 8) : [];
    assert.deepEqual(out, expected, `image ${i} evicts the least recently used`);
    evicted += out.length;
    maxBytes = Math.max(maxBytes, cache.bytes);
    assert.ok(cache.bytes <= bound, `after image ${i}: ${cache.bytes} bytes`);
    // A use makes an entry the most recent.
    if (i % 50 === 10) {
      const used = order[1] as string;
      assert.ok(cache.get(used));
      order.splice(1, 1);
      order.push(used);
    }
  }
  assert.equal(maxBytes, bound);
  assert.equal(cache.size, 8);
  assert.equal(evicted, 492);
});

test('a used entry survives, ahead-of-need entries are counted until used, an oversize entry is not kept', () => {
  const cache = new EmbeddingCache(3 * 16);
  const e = (prefetched = false) => ({ data: new Float32Array(4), width: 1, height: 1, prefetched });
  cache.set('a', e());
  cache.set('b', e(true));
  cache.set('c', e(true));
  assert.equal(cache.prefetched, 2);
  assert.ok(cache.get('a'));
  assert.ok(cache.get('b'));
  assert.equal(cache.prefetched, 1);
  assert.deepEqual(cache.set('d', e()), ['c']);
  assert.deepEqual(cache.set('huge', { data: new Float32Array(100), width: 1, height: 1, prefetched: false }), []);
  assert.equal(cache.has('huge'), false);
  assert.equal(cache.bytes, 48);
  assert.ok(cache.delete('a'));
  assert.equal(cache.bytes, 32);
});

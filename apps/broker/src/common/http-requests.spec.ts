import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { methodLabel, routeLabel } from './http-requests';

describe('request labels', () => {
  it('names a request by the route template it took, never its path or query', () => {
    assert.equal(
      routeLabel({ route: { path: '/api/v1/domains/:domain/apps/:app' }, originalUrl: '/api/v1/domains/acme/apps/shop?wait=5' }),
      '/api/v1/domains/:domain/apps/:app',
    );
    assert.equal(routeLabel({ route: { path: '/:id' }, baseUrl: '/api/v1/things', originalUrl: '/api/v1/things/42' }), '/api/v1/things/:id');
  });

  it('puts every request no route took in one series, and git pushes in another', () => {
    assert.equal(routeLabel({ originalUrl: '/api/v1/no/such/thing' }), 'unmatched');
    assert.equal(routeLabel({ route: { path: '/api/v1/{*path}' }, originalUrl: '/api/v1/no/such/thing' }), 'unmatched');
    assert.equal(routeLabel({ originalUrl: `/${'x'.repeat(500)}` }), 'unmatched');
    assert.equal(routeLabel({ originalUrl: '/git/acme/shop.git/info/refs?service=git-receive-pack' }), '/git');
    assert.equal(routeLabel({ originalUrl: '/gitlab' }), 'unmatched');
    // The console's pages and assets are one series, whatever app a page names.
    assert.equal(routeLabel({ originalUrl: '/apps/acme/shop' }), '/console');
    assert.equal(routeLabel({ originalUrl: '/assets/index-abc123.js' }), '/console');
  });

  it('keeps methods to the standard ones', () => {
    assert.equal(methodLabel('GET'), 'GET');
    assert.equal(methodLabel('PROPFIND'), 'other');
    assert.equal(methodLabel('get'), 'other');
    assert.equal(methodLabel(undefined), 'other');
  });
});

import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelConfigError, parseModelConfig } from '../src/index.js';

// The example from TF Serving's docs (serving_config.md), with both quote styles and a comment.
const TEXT_CONFIG = `
# two models
model_config_list {
  config {
    name: 'half_plus_two'
    base_path: '/models/half_plus_two'
    model_platform: 'tensorflow'
    model_version_policy {
      specific {
        versions: 1
        versions: 2
      }
    }
    version_labels {
      key: 'stable'
      value: 1
    }
    version_labels {
      key: 'canary'
      value: 2
    }
  }
  config {
    name: "resnet"
    base_path: "relative/resnet"
    model_version_policy: { latest { num_versions: 2 } }
  }
  config: <
    name: "everything"; base_path: "/m/all"
    model_version_policy { all {} }
  >
}
`;

describe('parseModelConfig (text format)', () => {
  it('reads names, base paths, version policies and labels', () => {
    const configs = parseModelConfig(TEXT_CONFIG, '/etc/serving/models.config');
    expect(configs).toEqual([
      {
        name: 'half_plus_two',
        basePath: '/models/half_plus_two',
        versionPolicy: { kind: 'specific', versions: [1, 2] },
        versionLabels: { stable: 1, canary: 2 },
      },
      {
        name: 'resnet',
        basePath: '/etc/serving/relative/resnet',
        versionPolicy: { kind: 'latest', numVersions: 2 },
        versionLabels: {},
      },
      { name: 'everything', basePath: '/m/all', versionPolicy: { kind: 'all' }, versionLabels: {} },
    ]);
  });

  it('defaults to the latest version', () => {
    const [config] = parseModelConfig(`model_config_list { config { name: "m" base_path: "/b" } }`, 'x.config');
    expect(config.versionPolicy).toEqual({ kind: 'latest', numVersions: 1 });
  });

  it('reads escapes and list syntax', () => {
    const [config] = parseModelConfig(
      `model_config_list { config { name: "a\\x62c" base_path: '/p\\'q' model_version_policy { specific { versions: [3, 4] } } } }`,
      'x.config',
    );
    expect(config.name).toBe('abc');
    expect(config.basePath).toBe("/p'q");
    expect(config.versionPolicy).toEqual({ kind: 'specific', versions: [3, 4] });
  });

  it.each([
    ['model_config_list { config { name: "m" base_path: "/b" versoin_labels { key: "a" value: 1 } } }', /x.config:1: unknown field 'versoin_labels'/],
    ['model_config_list { config { name: "m" base_path: "/b" }', /missing '}'/],
    ['model_config_list {\n config {\n name: "m"\n } }', /x.config:2: 'base_path' must be a non-empty string/],
    ['model_config_list { config { name: "../etc" base_path: "/b" } }', /model name '..\/etc' is not allowed/],
    ['model_config_list { config { name: "m" base_path: "/b" model_platform: "pytorch" } }', /model_platform 'pytorch' is not supported/],
    ['model_config_list { config { name: "m" base_path: "/b" } config { name: "m" base_path: "/c" } }', /model 'm' is configured twice/],
    ['model_config_list { config { name: "m" base_path: "/b" model_version_policy { latest {} all {} } } }', /exactly one of latest, all, specific/],
    ['custom_model_config { }', /custom_model_config is not supported/],
    ['model_config_list { config { name: "unterminated } }', /unterminated string/],
  ])('rejects %s', (text, message) => {
    expect(() => parseModelConfig(text, 'x.config')).toThrow(ModelConfigError);
    expect(() => parseModelConfig(text, 'x.config')).toThrow(message);
  });
});

describe('parseModelConfig (JSON)', () => {
  it('reads the proto3 JSON form, snake_case or camelCase', () => {
    const json = JSON.stringify({
      model_config_list: {
        config: [
          {
            name: 'half_plus_two',
            base_path: 'models/hp2',
            model_version_policy: { specific: { versions: [123, '124'] } },
            version_labels: { stable: 123, canary: '124' },
          },
          { name: 'b', basePath: '/b', modelVersionPolicy: { all: {} } },
        ],
      },
    });
    const configs = parseModelConfig(json, path.join('/srv', 'models.json'));
    expect(configs).toEqual([
      {
        name: 'half_plus_two',
        basePath: '/srv/models/hp2',
        versionPolicy: { kind: 'specific', versions: [123, 124] },
        versionLabels: { stable: 123, canary: 124 },
      },
      { name: 'b', basePath: '/b', versionPolicy: { kind: 'all' }, versionLabels: {} },
    ]);
  });

  it('reports invalid JSON and unknown fields', () => {
    expect(() => parseModelConfig('{"model_config_list": ', 'm.json')).toThrow(/m.json: invalid JSON/);
    expect(() => parseModelConfig('{"model_config_list": {"config": [{"name": "a", "base_path": "/a", "labels": {}}]}}', 'm.json')).toThrow(
      /unknown field 'labels'/,
    );
  });
});

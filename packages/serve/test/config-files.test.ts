// TF Serving's configuration files in text format, with the contents of its own test data
// (tensorflow_serving/servables/tensorflow/testdata: batching_config.txt, monitoring_config.txt,
// good_model_config.txt, bad_model_config.txt) and the examples of its docs (g3doc/serving_config.md).
import { describe, expect, it } from 'vitest';
import { ConfigFileError, ModelConfigError, TF_BATCHING_DEFAULTS, modelConfigsFromObject, parseBatchingParameters, parseModelConfig, parseMonitoringConfig } from '../src/index.js';

describe('BatchingParameters (--batching_parameters_file)', () => {
  it("reads TF Serving's testdata/batching_config.txt (also serving_config.md's example)", () => {
    const text = 'max_batch_size { value: 128 }\nbatch_timeout_micros { value: 0 }\nmax_enqueued_batches { value: 1000000 }\nnum_batch_threads { value: 8 }\n';
    expect(parseBatchingParameters(text, 'batching_config.txt')).toEqual({
      maxBatchSize: 128,
      batchTimeoutMicros: 0,
      maxEnqueuedBatches: 1000000,
      numBatchThreads: 8,
      allowedBatchSizes: [],
      padVariableLengthInputs: false,
    });
  });

  it("keeps SharedBatchScheduler's defaults for fields not given, and reads the BatchingSession fields", () => {
    const params = parseBatchingParameters('max_batch_size { value: 8 } allowed_batch_sizes: [2, 4, 8] pad_variable_length_inputs: true', 'b.txt');
    expect(params).toEqual({ ...TF_BATCHING_DEFAULTS, maxBatchSize: 8, allowedBatchSizes: [2, 4, 8], padVariableLengthInputs: true });
    // Repeated by repetition, as text format allows; the defaults object is not touched.
    expect(parseBatchingParameters('allowed_batch_sizes: 10 allowed_batch_sizes: 1000', 'b.txt').allowedBatchSizes).toEqual([10, 1000]);
    expect(TF_BATCHING_DEFAULTS.allowedBatchSizes).toEqual([]);
  });

  it.each([
    ['max_batch_size: 128', /^b.txt:1: max_batch_size is a google.protobuf.Int64Value: write max_batch_size \{ value: 128 \}$/],
    ['max_batch_size { value: 0 }', /b.txt:1: max_batch_size must be an integer >= 1, got 0 \(write max_batch_size \{ value: N \}\)/],
    ['max_batch_size { value: 8 } allowed_batch_sizes: [4, 2, 8]', /allowed_batch_sizes entries must be monotonically increasing/],
    ['max_batch_size { value: 8 } allowed_batch_sizes: [2, 4]', /final entry in allowed_batch_sizes must equal max_batch_size \(8\)/],
    ['max_batch_size { valeu: 8 }', /unknown field 'valeu' \(expected one of: value\)/],
    ['batch_size { value: 8 }', /unknown field 'batch_size'/],
    ['max_batch_size { value: 8', /Error parsing text-format tensorflow.serving.BatchingParameters: b.txt:1: missing '}'/],
  ])('%s is refused with a one-line message', (text, message) => {
    let error: unknown;
    try {
      parseBatchingParameters(text, 'b.txt');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigFileError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain('\n');
  });
});

describe('MonitoringConfig (--monitoring_config_file)', () => {
  it("reads TF Serving's testdata/monitoring_config.txt", () => {
    const text = 'prometheus_config: {\n  enable: true,\n  path: "/monitoring/prometheus/metrics"\n}\n';
    expect(parseMonitoringConfig(text, 'monitoring_config.txt')).toEqual({ prometheusPath: '/monitoring/prometheus/metrics' });
  });

  it('serves no metrics unless enabled, and at the default path when none is given', () => {
    expect(parseMonitoringConfig('prometheus_config { enable: false path: "/m" }', 'm.txt')).toEqual({ prometheusPath: null });
    expect(parseMonitoringConfig('', 'm.txt')).toEqual({ prometheusPath: null });
    expect(parseMonitoringConfig('prometheus_config { enable: true }', 'm.txt')).toEqual({ prometheusPath: '/monitoring/prometheus/metrics' });
    expect(parseMonitoringConfig("prometheus_config { enable: true path: '/metrics' }", 'm.txt')).toEqual({ prometheusPath: '/metrics' });
  });

  it.each([
    ['prometheus_config { enable: 1 }', /m.txt:1: enable must be true or false/],
    ['prometheus_config { enable: true path: "metrics" }', /path must be a URL path starting with "\/"/],
    ['prometheus { enable: true }', /unknown field 'prometheus' \(expected one of: prometheus_config\)/],
  ])('%s is refused', (text, message) => {
    expect(() => parseMonitoringConfig(text, 'm.txt')).toThrow(message);
  });
});

describe('ModelServerConfig as TF Serving writes it', () => {
  it("reads testdata/good_model_config.txt (fields written `config: {...},` with commas)", () => {
    const text = `model_config_list: {
  config: {
    name: "half_plus_two",
    base_path: "/models/half_plus_two",
    model_platform: "tensorflow"
  },
  config: {
    name: "half_plus_three",
    base_path: "/models/half_plus_three",
    model_platform: "tensorflow"
  }
}
`;
    expect(parseModelConfig(text, '/etc/good_model_config.txt').map((c) => [c.name, c.basePath])).toEqual([
      ['half_plus_two', '/models/half_plus_two'],
      ['half_plus_three', '/models/half_plus_three'],
    ]);
  });

  it("refuses testdata/bad_model_config.txt with the words tensorflow_model_server_test.py's testBadModelConfig looks for", () => {
    expect(() => parseModelConfig('improperly formatted file', 'bad_model_config.txt')).toThrow(
      /^Error parsing text-format tensorflow.serving.ModelServerConfig: bad_model_config.txt:1: /,
    );
    expect(() => parseModelConfig('improperly formatted file', 'bad_model_config.txt')).toThrow(ModelConfigError);
  });

  it('reads the ModelServerConfig of a HandleReloadConfigRequest (protobufjs toObject form), which needs absolute base paths', () => {
    const config = {
      model_config_list: {
        config: [
          {
            name: 'hp',
            base_path: '/models/hp',
            model_platform: 'tensorflow',
            model_version_policy: { specific: { versions: ['42', '43'] } },
            version_labels: { stable: '42', canary: '43' },
          },
          { name: 'all', base_path: '/models/all', model_version_policy: { all: {} } },
        ],
      },
    };
    expect(modelConfigsFromObject(config, 'ReloadConfigRequest.config')).toEqual([
      { name: 'hp', basePath: '/models/hp', versionPolicy: { kind: 'specific', versions: [42, 43] }, versionLabels: { stable: 42, canary: 43 } },
      { name: 'all', basePath: '/models/all', versionPolicy: { kind: 'all' }, versionLabels: {} },
    ]);
    expect(() => modelConfigsFromObject({ model_config_list: { config: [{ name: 'm', base_path: 'models/m' }] } }, 'r')).toThrow(
      'Expected model m to have an absolute path or URI; got base_path()=models/m',
    );
  });
});

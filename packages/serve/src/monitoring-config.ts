// TF Serving's --monitoring_config_file: a MonitoringConfig message
// (tensorflow_serving/config/monitoring_config.proto) in text format, `prometheus_config { enable: true,
// path: "/monitoring/prometheus/metrics" }`. TF Serving serves metrics only when enable is true; its
// path defaults to PrometheusExporter::kPrometheusPath.
import fs from 'node:fs/promises';
import { ConfigFileError, checkFields, optionalMessage, optionalScalar, parseTextFormat, where, type Message } from './text-format.js';

export const DEFAULT_METRICS_PATH = '/monitoring/prometheus/metrics';

export interface MonitoringConfig {
  /** Where Prometheus scrapes metrics on the REST port; null: no metrics route. */
  prometheusPath: string | null;
}

export async function readMonitoringConfigFile(file: string): Promise<MonitoringConfig> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigFileError(`cannot read --monitoring_config_file ${file}: ${(err as Error).message}`);
  }
  return parseMonitoringConfig(text, file);
}

export function parseMonitoringConfig(text: string, origin: string): MonitoringConfig {
  let root: Message;
  try {
    root = parseTextFormat(text, origin);
  } catch (err) {
    throw new ConfigFileError(`Error parsing text-format tensorflow.serving.MonitoringConfig: ${(err as Error).message}`);
  }
  checkFields(root, ['prometheus_config']);
  const prometheus = optionalMessage(root, 'prometheus_config');
  if (!prometheus) return { prometheusPath: null };
  checkFields(prometheus, ['enable', 'path']);
  const enable = optionalScalar(prometheus, 'enable') ?? false;
  if (typeof enable !== 'boolean') throw new ConfigFileError(`${where(prometheus, 'enable')}: enable must be true or false`);
  const path = optionalScalar(prometheus, 'path') ?? '';
  if (typeof path !== 'string') throw new ConfigFileError(`${where(prometheus, 'path')}: path must be a string`);
  if (path !== '' && (!path.startsWith('/') || /[\s?#]/.test(path))) {
    throw new ConfigFileError(`${where(prometheus, 'path')}: path must be a URL path starting with "/" (no spaces, ? or #), got '${path}'`);
  }
  return { prometheusPath: enable ? path || DEFAULT_METRICS_PATH : null };
}

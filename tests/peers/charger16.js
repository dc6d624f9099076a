// A whole 1.6 session from ocpp-rpc in strict mode: it validates its own calls and every CSMS
// response against the OCA JSON schemas. Exit 0: all good; 1: a call failed; 2: a schema violation.
const { RPCClient } = require('ocpp-rpc');

const [endpoint, identity, password, idTag] = process.argv.slice(2);

async function main() {
  const cli = new RPCClient({ endpoint, identity, password, protocols: ['ocpp1.6'], strictMode: true, reconnect: false });
  cli.on('strictValidationFailure', (e) => { console.error('strictValidationFailure:', e.error.message); process.exitCode = 2; });
  await cli.connect();
  const now = () => new Date().toISOString();
  const log = (name, value) => console.log(name, JSON.stringify(value));
  log('negotiated', cli.protocol);
  log('BootNotification', await cli.call('BootNotification', { chargePointVendor: 'Peer', chargePointModel: 'Strict-1', firmwareVersion: '2.2.1' }));
  log('Heartbeat', await cli.call('Heartbeat', {}));
  log('StatusNotification', await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Preparing', timestamp: now() }));
  log('Authorize', await cli.call('Authorize', { idTag }));
  const started = await cli.call('StartTransaction', { connectorId: 1, idTag, meterStart: 2000, timestamp: now() });
  log('StartTransaction', started);
  log('MeterValues', await cli.call('MeterValues', { connectorId: 1, transactionId: started.transactionId, meterValue: [
    { timestamp: now(), sampledValue: [
      { value: '2750', measurand: 'Energy.Active.Import.Register', unit: 'Wh', context: 'Sample.Periodic' },
      { value: '11000', measurand: 'Power.Active.Import', unit: 'W' }] }] }));
  log('StopTransaction', await cli.call('StopTransaction', { transactionId: started.transactionId, meterStop: 3500, timestamp: now(), idTag, reason: 'Local',
    transactionData: [{ timestamp: now(), sampledValue: [{ value: '3500', context: 'Transaction.End' }] }] }));
  log('StopTransaction(unknown)', await cli.call('StopTransaction', { transactionId: 424242, meterStop: 1, timestamp: now() }));
  log('DataTransfer', await cli.call('DataTransfer', { vendorId: 'org.example', messageId: 'ping', data: 'x' }));
  log('DiagnosticsStatusNotification', await cli.call('DiagnosticsStatusNotification', { status: 'Idle' }));
  log('FirmwareStatusNotification', await cli.call('FirmwareStatusNotification', { status: 'Idle' }));
  log('StatusNotification', await cli.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: now() }));
  await cli.close();
}

main().catch((e) => { console.error('FAILED', e.rpcErrorCode || e.name, e.message); process.exit(1); });

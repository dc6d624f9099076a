// A whole 2.0.1 session from ocpp-rpc in strict mode: it validates its own calls and every CSMS
// response against the OCA JSON schemas. Exit 0: all good; 1: a call failed; 2: a schema violation.
const { RPCClient } = require('ocpp-rpc');

const [endpoint, identity, password, idTag] = process.argv.slice(2);

async function main() {
  const cli = new RPCClient({ endpoint, identity, password, protocols: ['ocpp2.0.1'], strictMode: true, reconnect: false });
  cli.on('strictValidationFailure', (e) => { console.error('strictValidationFailure:', e.error.message); process.exitCode = 2; });
  await cli.connect();
  const now = () => new Date().toISOString();
  const log = (name, value) => console.log(name, JSON.stringify(value));
  const idToken = { idToken: idTag, type: 'ISO14443' };
  const energy = (wh, context) => [{ timestamp: now(), sampledValue: [
    { value: wh, context, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } }] }];
  const transactionId = 'peer-' + Date.now();
  log('negotiated', cli.protocol);
  log('BootNotification', await cli.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'Peer', model: 'Strict-2', firmwareVersion: '3.0.0' } }));
  log('Heartbeat', await cli.call('Heartbeat', {}));
  log('StatusNotification', await cli.call('StatusNotification', { timestamp: now(), connectorStatus: 'Occupied', evseId: 1, connectorId: 1 }));
  log('Authorize', await cli.call('Authorize', { idToken }));
  log('TransactionEvent(Started)', await cli.call('TransactionEvent', { eventType: 'Started', timestamp: now(), triggerReason: 'Authorized', seqNo: 0,
    transactionInfo: { transactionId, chargingState: 'Charging' }, idToken, evse: { id: 1, connectorId: 1 }, meterValue: energy(2000, 'Transaction.Begin') }));
  log('TransactionEvent(Updated)', await cli.call('TransactionEvent', { eventType: 'Updated', timestamp: now(), triggerReason: 'MeterValuePeriodic', seqNo: 1,
    transactionInfo: { transactionId }, meterValue: [{ timestamp: now(), sampledValue: [
      { value: 2750, measurand: 'Energy.Active.Import.Register', unitOfMeasure: { unit: 'Wh' } },
      { value: 11, measurand: 'Power.Active.Import', unitOfMeasure: { unit: 'W', multiplier: 3 } }] }] }));
  log('MeterValues', await cli.call('MeterValues', { evseId: 1, meterValue: energy(3000, 'Sample.Periodic') }));
  log('TransactionEvent(Ended)', await cli.call('TransactionEvent', { eventType: 'Ended', timestamp: now(), triggerReason: 'StopAuthorized', seqNo: 2,
    transactionInfo: { transactionId, stoppedReason: 'Local' }, idToken, evse: { id: 1, connectorId: 1 }, meterValue: energy(3500, 'Transaction.End') }));
  log('NotifyEvent', await cli.call('NotifyEvent', { generatedAt: now(), seqNo: 0, eventData: [{ eventId: 1, timestamp: now(), trigger: 'Delta',
    actualValue: 'true', eventNotificationType: 'HardWiredNotification', component: { name: 'Connector' }, variable: { name: 'Problem' } }] }));
  log('SecurityEventNotification', await cli.call('SecurityEventNotification', { type: 'StartupOfTheDevice', timestamp: now() }));
  log('DataTransfer', await cli.call('DataTransfer', { vendorId: 'org.example', messageId: 'ping', data: 'x' }));
  log('FirmwareStatusNotification', await cli.call('FirmwareStatusNotification', { status: 'Idle' }));
  log('LogStatusNotification', await cli.call('LogStatusNotification', { status: 'Idle' }));
  log('StatusNotification', await cli.call('StatusNotification', { timestamp: now(), connectorStatus: 'Available', evseId: 1, connectorId: 1 }));
  await cli.close();
}

main().catch((e) => { console.error('FAILED', e.rpcErrorCode || e.name, e.message); process.exit(1); });
